#!/usr/bin/env bash
# Create the JWT signing key and the data keys of one environment, once:
#   /authapi/<env>/jwt/signing-key          SecureString, RSA 3072 private key (PEM), infra KMS key
#   /authapi/<env>/jwt/retired-public-keys  String, PEM bundle of public keys still accepted, or "none"
#   /authapi/<env>/data/keys                SecureString, "id:base64url,..." newest first: the
#                                           HMAC (and later encryption) keys, 256 bits each
#
# Usage: infra/bootstrap-signing-key.sh <dev|prod>
# Needs openssl and the aws CLI with credentials for the environment's account and region, and
# the data stack (infra/data.yaml) deployed there: it publishes the KMS key's ARN.
#
# Existing keys are left alone, so running it twice is harmless. Rotating them is
# `make rotate-signing-key ENV=<env> PHASE=publish|promote|retire` (devtools/key_rotation.py):
# a new key is published before it signs and the old one kept until its tokens expire, with the
# waits between the phases enforced, so no verifier ever meets a key it does not know.
#
# The private key never appears in an argument, a variable or the terminal: it goes from openssl
# to a mktemp'd 0600 file, from there to SSM (file://), and the file is deleted on exit.
#
# Then the DR region (the data stack's DrRegion, published as /authapi/<env>/dr/region, or
# DR_REGION in the environment) gets a copy of all three under the same names, the SecureStrings
# encrypted with the replica of the multi-Region key there (infra/dr-keys.yaml): Parameter Store
# has no cross-region replication. The copy goes through a 0600 file too. If it fails the
# primary keeps its keys, the script says so and exits 1; running it again copies again.
set -euo pipefail
umask 077

usage() {
    echo "usage: $0 <dev|prod>"
}

die() {
    echo "error: $*" >&2
    exit 1
}

env=""
while (($#)); do
    case "$1" in
        --rotate) die "rotation is make rotate-signing-key ENV=<env> PHASE=publish|promote|retire" ;;
        -h | --help)
            usage
            exit 0
            ;;
        dev | prod)
            [[ -z "$env" ]] || die "one environment at a time"
            env="$1"
            ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
    shift
done
[[ -n "$env" ]] || {
    usage >&2
    exit 2
}

for tool in aws openssl; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

prefix="/authapi/${env}/"
signing_key_name="${prefix}jwt/signing-key"
retired_keys_name="${prefix}jwt/retired-public-keys"
data_keys_name="${prefix}data/keys"

workdir="$(mktemp -d)"
trap 'rm -rf -- "$workdir"' EXIT

# True when the parameter exists; any other failure (credentials, permissions) stops the script.
parameter_exists() {
    local count
    count="$(aws ssm describe-parameters --parameter-filters "Key=Name,Values=$1" \
        --query 'length(Parameters)' --output text)"
    [[ "$count" != "0" ]]
}

key_arn="$(aws ssm get-parameter --name "${prefix}kms/key-arn" --query Parameter.Value --output text)" ||
    die "cannot read ${prefix}kms/key-arn: deploy infra/data.yaml for $env first"

if parameter_exists "$signing_key_name"; then
    has_signing_key=true
else
    has_signing_key=false
fi

if ! parameter_exists "$retired_keys_name"; then
    aws ssm put-parameter --name "$retired_keys_name" --type String --tier Intelligent-Tiering \
        --value none >/dev/null
    echo "created $retired_keys_name = none"
fi

# A new "id:key" data key entry: 8 hex digits of id, 32 random bytes in base64url.
new_data_key() {
    printf '%s:%s' "$(openssl rand -hex 4)" "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')"
}

data_keys_file="$(mktemp -p "$workdir")"
if ! parameter_exists "$data_keys_name"; then
    new_data_key >"$data_keys_file"
    aws ssm put-parameter --name "$data_keys_name" --type SecureString --key-id "$key_arn" \
        --value "file://$data_keys_file" >/dev/null
    echo "stored new data keys in $data_keys_name"
fi

if [[ "$has_signing_key" == true ]]; then
    echo "$signing_key_name already exists; left unchanged (make rotate-signing-key rotates it)"
else
    new_key="$(mktemp -p "$workdir")"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$new_key" 2>/dev/null
    # the one consistency check of the key's private numbers: the function skips it on every
    # cold start (authapi.key_material.load_private_key), so a key is checked here, before it
    # is stored
    openssl pkey -in "$new_key" -check -noout >/dev/null
    aws ssm put-parameter --name "$signing_key_name" --type SecureString --key-id "$key_arn" \
        --value "file://$new_key" >/dev/null
    echo "stored a new RSA 3072 signing key in $signing_key_name"
fi

# ---- the DR region's copy ------------------------------------------------------------------
dr_region="${DR_REGION:-}"
if [[ -z "$dr_region" ]]; then
    dr_region="$(aws ssm get-parameter --name "${prefix}dr/region" --query Parameter.Value \
        --output text 2>/dev/null)" || dr_region=none
fi
if [[ "$dr_region" == none ]]; then
    echo "no DR region for $env (the data stack's DrRegion is empty): the keys are in one region only" >&2
    exit 0
fi

dr_failed() {
    echo "DR COPY FAILED: the primary region holds $env's keys, but $dr_region does not hold a" \
        "copy of $1 ($2)." >&2
    echo "  The primary is complete and the app runs on it; a restore in $dr_region would lack" \
        "the keys. Fix the cause (infra/dr-keys.yaml deployed in $dr_region? credentials?)," \
        "then run infra/bootstrap-signing-key.sh $env again: it keeps the primary's keys and" \
        "copies them again." >&2
    exit 1
}

# arn:<partition>:kms:<region>:<account>:key/mrk-<id>: a multi-Region key's replica has the same
# id in the other region
IFS=: read -r arn partition service key_region account key_resource <<<"$key_arn"
[[ "$arn" == arn && "$key_resource" == key/mrk-* ]] ||
    dr_failed "any parameter" "$key_arn is not a multi-Region key: deploy infra/data.yaml again"
[[ "$dr_region" != "$key_region" ]] || dr_failed "any parameter" "DR region = primary region"
replica_key_arn="arn:${partition}:${service}:${dr_region}:${account}:${key_resource}"

copy_to_dr() { # name type
    local copy
    copy="$(mktemp -p "$workdir")"
    aws ssm get-parameter --name "$1" --with-decryption --query Parameter.Value --output text \
        >"$copy" || dr_failed "$1" "reading it in the primary region failed"
    # --output text ends the value with one newline of its own
    truncate -s -1 "$copy"
    if [[ "$2" == SecureString ]]; then
        aws --region "$dr_region" ssm put-parameter --name "$1" --type SecureString \
            --key-id "$replica_key_arn" --overwrite --value "file://$copy" >/dev/null ||
            dr_failed "$1" "writing it failed"
    else
        aws --region "$dr_region" ssm put-parameter --name "$1" --type String \
            --tier Intelligent-Tiering --overwrite --value "file://$copy" >/dev/null ||
            dr_failed "$1" "writing it failed"
    fi
    rm -f -- "$copy"
}

copy_to_dr "$signing_key_name" SecureString
copy_to_dr "$retired_keys_name" String
copy_to_dr "$data_keys_name" SecureString
echo "copied $signing_key_name, $retired_keys_name and $data_keys_name to $dr_region"
