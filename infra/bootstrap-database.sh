#!/usr/bin/env bash
# Create the database roles the functions connect as, once per environment, as the master user:
#   <prefix>_app          the API: reads and writes rows, nothing else (audit rows: insert, read)
#   <prefix>_maintenance  the maintenance run: the app's rights, plus deleting audit rows
#   <prefix>_migrator     the PreTraffic hook: owns the schema, runs the migrations
# all allowed to log in with IAM tokens (rds_iam), which is all RDS Proxy's end-to-end IAM
# mode lets anyone use. Run it again after upgrading to a release that adds a role (the
# maintenance role came with the audit trail): the migrator cannot create roles, so until then
# the deploy's migration fails, before any traffic moves, and says to run this.
#
# Usage: infra/bootstrap-database.sh <dev|prod>
# Needs python3 and the aws CLI with credentials for the environment's account and region, and
# the data stack (infra/data.yaml) deployed there: its outputs name the cluster and the master
# user's secret (managed and rotated by RDS), SSM names the database and the role prefix.
#
# The SQL is the migration's own (functions/authapi/migrations/roles.py), every statement
# guarded: running this twice is harmless, and the first deploy's migration runs it again as a
# no-op. It goes through the RDS Data API, switched on for the run and off again on exit, so
# the master password never leaves Secrets Manager and nothing needs a way into the VPC.
set -euo pipefail

usage() {
    echo "usage: $0 <dev|prod>"
}

die() {
    echo "error: $*" >&2
    exit 1
}

case "${1:-}" in
    dev | prod) env="$1" ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
[[ $# -eq 1 ]] || {
    usage >&2
    exit 2
}

for tool in aws python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack="authapi-data-${env}"
prefix="/authapi/${env}/"

stack_output() {
    aws cloudformation describe-stacks --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

parameter() {
    aws ssm get-parameter --name "${prefix}$1" --query Parameter.Value --output text
}

cluster_arn="$(stack_output ClusterArn)" || die "cannot read $stack: deploy infra/data.yaml for $env first"
secret_arn="$(stack_output MasterUserSecretArn)"
[[ -n "$cluster_arn" && "$cluster_arn" != "None" ]] || die "$stack has no ClusterArn output"
database="$(parameter db/name)"
role_prefix="$(parameter db/role-prefix)"

# roles.py imports nothing of the package: run it by path, with no virtualenv needed; one
# statement per NUL-terminated record, since the Data API takes one statement per call
statements="$(mktemp)"
python3 -c 'import runpy, sys
for statement in runpy.run_path(sys.argv[1])["bootstrap_statements"](sys.argv[2]):
    sys.stdout.write(statement + "\0")' \
    "$root/functions/authapi/migrations/roles.py" "$role_prefix" >"$statements"

aws rds enable-http-endpoint --resource-arn "$cluster_arn" >/dev/null
trap 'aws rds disable-http-endpoint --resource-arn "$cluster_arn" >/dev/null; rm -f -- "$statements"' EXIT

execute() {
    aws rds-data execute-statement --resource-arn "$cluster_arn" --secret-arn "$secret_arn" \
        --database "$database" --sql "$1" >/dev/null
}

first=true
while IFS= read -r -d '' sql; do
    if [[ "$first" == true ]]; then
        # the Data API takes a little while to answer once switched on
        for attempt in 1 2 3 4 5 6 7 8 9 10; do
            execute "$sql" && break
            ((attempt < 10)) || die "the Data API never answered; nothing was changed"
            echo "the Data API is not answering yet (attempt $attempt); retrying" >&2
            sleep "${BOOTSTRAP_RETRY_SECONDS:-6}"
        done
        first=false
    else
        execute "$sql"
    fi
done <"$statements"
echo "database roles ready: ${role_prefix}_app, ${role_prefix}_maintenance, ${role_prefix}_migrator"
