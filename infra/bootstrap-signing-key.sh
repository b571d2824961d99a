#!/usr/bin/env bash
# Create, or with --rotate replace, the JWT signing key and the data keys of one environment:
#   /authapi/<env>/jwt/signing-key          SecureString, RSA 3072 private key (PEM), infra KMS key
#   /authapi/<env>/jwt/retired-public-keys  String, PEM bundle of public keys still accepted, or "none"
#   /authapi/<env>/data/keys                SecureString, "id:base64url,..." newest first: the
#                                           HMAC (and later encryption) keys, 256 bits each
#
# Usage: infra/bootstrap-signing-key.sh [--rotate] <dev|prod>
# Needs openssl and the aws CLI with credentials for the environment's account and region, and
# the data stack (infra/data.yaml) deployed there: it publishes the KMS key's ARN.
#
# Without --rotate existing keys are left alone, so running it twice is harmless. --rotate also
# puts a new data key in front of the old ones (which stay, to read what they protected); keyed
# hashes made with the old key (login throttle counters) start afresh.
# --rotate first appends the current key's public half to retired-public-keys (tokens it signed
# keep verifying), then stores a new key. Running functions cache both parameters for
# AUTHAPI_SSM_CACHE_SECONDS (300 s) and keep signing with the old key until then; a token
# signed with a key they have not seen yet makes them re-read SSM at once, so tokens from
# instances that already switched are accepted meanwhile. Retired keys can be removed by hand
# once the access-token lifetime (30 min) has passed since the rotation.
#
# The private key never appears in an argument, a variable or the terminal: it goes from openssl
# to a mktemp'd 0600 file, from there to SSM (file://), and the file is deleted on exit.
set -euo pipefail
umask 077

usage() {
    echo "usage: $0 [--rotate] <dev|prod>"
}

die() {
    echo "error: $*" >&2
    exit 1
}

rotate=false
env=""
while (($#)); do
    case "$1" in
        --rotate) rotate=true ;;
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

if [[ "$has_signing_key" == false && "$rotate" == true ]]; then
    die "$signing_key_name does not exist yet: run without --rotate to create it"
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
elif [[ "$rotate" == true ]]; then
    new_data_key >"$data_keys_file"
    printf ',' >>"$data_keys_file"
    aws ssm get-parameter --name "$data_keys_name" --with-decryption \
        --query Parameter.Value --output text | tr -d '\n' >>"$data_keys_file"
    aws ssm put-parameter --name "$data_keys_name" --type SecureString --key-id "$key_arn" \
        --value "file://$data_keys_file" --overwrite >/dev/null
    echo "put a new data key in front of $data_keys_name"
fi

if [[ "$has_signing_key" == true && "$rotate" == false ]]; then
    echo "$signing_key_name already exists; left unchanged (use --rotate to replace it)"
    exit 0
fi

if [[ "$rotate" == true ]]; then
    current_key="$(mktemp -p "$workdir")"
    aws ssm get-parameter --name "$signing_key_name" --with-decryption \
        --query Parameter.Value --output text >"$current_key"
    retired_bundle="$workdir/retired.pem"
    retired="$(aws ssm get-parameter --name "$retired_keys_name" --query Parameter.Value --output text)"
    if [[ "$retired" != "none" ]]; then
        printf '%s\n' "$retired" >"$retired_bundle"
    fi
    openssl pkey -in "$current_key" -pubout >>"$retired_bundle"
    # Intelligent-Tiering: the bundle moves to the advanced tier by itself past 4 KB (~6 keys)
    aws ssm put-parameter --name "$retired_keys_name" --type String --tier Intelligent-Tiering \
        --value "file://$retired_bundle" --overwrite >/dev/null
    echo "appended the current public key to $retired_keys_name"
fi

new_key="$(mktemp -p "$workdir")"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$new_key" 2>/dev/null
# the one consistency check of the key's private numbers: the function skips it on every cold
# start (authapi.key_material.load_private_key), so a key is checked here, before it is stored
openssl pkey -in "$new_key" -check -noout >/dev/null
aws ssm put-parameter --name "$signing_key_name" --type SecureString --key-id "$key_arn" \
    --value "file://$new_key" --overwrite >/dev/null
echo "stored a new RSA 3072 signing key in $signing_key_name"
