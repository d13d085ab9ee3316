#!/usr/bin/env bash
# The acceptance run of a release, on a real AWS account (README: "Before a
# release: the acceptance run"). It deploys a base (topic with an SQS
# subscriber, the two handler functions, a Fargate compute environment and
# queue) and two jobs on busybox, one that succeeds and one that fails; runs
# both; checks that both notifications reach the queue, that `sjob logs` shows
# each container's lines and that `sjob status` lists the runs; then destroys
# everything and checks that nothing tagged with the stack's identity is left.
# It cleans up the same way on any failure and on Ctrl-C, and says what it
# could not delete.
#
# Needs: sjob (on PATH, or $SJOB), python3 with boto3, and for `sjob package`
# a clone of sjob with cargo-lambda (README: "Deploying to real AWS").
#
# For CI against the emulator only: SJOB_ACCEPTANCE_HANDLER_ZIPS=DIR deploys
# DIR/success-handler/bootstrap.zip and DIR/error-handler/bootstrap.zip
# instead of running `sjob package`. Everything else is the same path.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/aws-acceptance.sh --account ID [--region REGION] [--vpc VPC --subnets SUBNET,...]
                                 [--stage NAME] [--settle SECONDS]

  --account ID      the account to run in; must be the credentials' account (required)
  --region REGION   else AWS_REGION, AWS_DEFAULT_REGION or the profile's region
  --vpc, --subnets  where the jobs run (subnets with a route to the internet, to pull
                    the image); the region's default VPC and subnets by default
  --stage NAME      the stack's stage (app `sjob-accept`); a random one by default
  --settle SECONDS  how long to wait after the destroy for AWS's tagging index to
                    drop deleted resources before calling them left behind (300)
EOF
}

die() {
    echo "aws-acceptance: $*" >&2
    exit 1
}

step() {
    echo "==> $(date +%T) $*" >&2
}

here="$(cd "$(dirname "$0")" && pwd)"
workspace="$(dirname "$here")"
sjob="${SJOB:-sjob}"
helper=(python3 "$here/aws_acceptance.py")
app="sjob-accept"
account="" region="" vpc="" subnets="" stage="" settle=300
while [ $# -gt 0 ]; do
    case "$1" in
        --account) account="${2:?--account needs a value}"; shift 2 ;;
        --region) region="${2:?--region needs a value}"; shift 2 ;;
        --vpc) vpc="${2:?--vpc needs a value}"; shift 2 ;;
        --subnets) subnets="${2:?--subnets needs a value}"; shift 2 ;;
        --stage) stage="${2:?--stage needs a value}"; shift 2 ;;
        --settle) settle="${2:?--settle needs a value}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
[ -n "$account" ] || { usage >&2; die "--account is required: the account ID you mean to run in"; }
if [ -n "$vpc$subnets" ] && { [ -z "$vpc" ] || [ -z "$subnets" ]; }; then
    die "--vpc and --subnets go together"
fi
command -v "$sjob" >/dev/null || die "cannot find sjob: put it on PATH (cargo install --path deployer) or set SJOB"
# The Rust SDK reads AWS_REGION, boto3 AWS_DEFAULT_REGION: both get the same.
region="${region:-${AWS_REGION:-}}"
[ -z "$region" ] || export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"

identity="$("${helper[@]}" caller)" || die "cannot tell which account the credentials are for"
read -r caller_account partition region <<<"$identity"
[ "$caller_account" = "$account" ] ||
    die "refusing to run: the credentials are for account $caller_account, not $account"
export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"
stage="${stage:-r$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}"

step "acceptance run in account $account, region $region, as $app/$stage"
# Two tasks of 0.25 vCPU and 0.5 GB, billed two minutes each (image pull included).
"${helper[@]}" cost --jobs 2 --vcpus 0.25 --memory-gb 0.5 --task-seconds 120

if [ -z "$vpc" ]; then
    network="$("${helper[@]}" default-network)" || die "no network to run the jobs in"
    read -r vpc subnets <<<"$network"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sjob-acceptance.XXXXXX")"
config="" queue_url=""

# Destroys what the run created, whatever state it got to; the run passes
# only if nothing is left.
cleanup() {
    local code=$? unfinished=()
    trap '' INT
    trap - EXIT TERM
    step "cleaning up (Ctrl-C is ignored until this ends)"
    if [ -n "$config" ]; then
        "$sjob" --config "$config" destroy --yes >&2 ||
            unfinished+=("the stack: run \`$sjob --config $config destroy --yes\`")
    fi
    if [ -n "$queue_url" ]; then
        "${helper[@]}" delete-queue "$queue_url" || unfinished+=("the subscriber queue $queue_url")
    fi
    if [ -n "$config" ]; then
        "${helper[@]}" leftovers --app "$app" --stage "$stage" --region "$region" --settle "$settle" ||
            unfinished+=("the resources listed above")
    fi
    if [ ${#unfinished[@]} -gt 0 ]; then
        echo "aws-acceptance: could not delete:" >&2
        printf '  - %s\n' "${unfinished[@]}" >&2
        echo "aws-acceptance: the config is kept in $work" >&2
        [ "$code" -ne 0 ] || code=1
    else
        rm -rf "$work"
    fi
    if [ "$code" -eq 0 ]; then
        step "acceptance run passed"
    else
        step "acceptance run FAILED"
    fi
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

topic_arn="arn:$partition:sns:$region:$account:$app-$stage-job-notifications"
step "creating the subscriber queue"
queue="$("${helper[@]}" create-queue "$app-$stage-subscriber" "$topic_arn")" || die "cannot create the subscriber queue"
read -r queue_url queue_arn <<<"$queue"

if [ -n "${SJOB_ACCEPTANCE_HANDLER_ZIPS:-}" ]; then
    packages="$SJOB_ACCEPTANCE_HANDLER_ZIPS"
else
    packages="$work/target/lambda"
fi
subnet_list="$(printf '"%s", ' ${subnets//,/ })"
cat >"$work/sjob.toml" <<EOF
app_name = "$app"
stage    = "$stage"
region   = "$region"

[defaults]
image_uri          = "public.ecr.aws/docker/library/busybox"
vcpus              = "0.25"
memory             = "512"
assign_public_ip   = true
log_retention_days = 1
enabled            = false
sfn_input          = { acceptance = "$stage" }

[jobs.succeeds]
command             = ["sh", "-c", "echo 'acceptance: started'; echo \"acceptance: input \$SJOB_INPUT\"; echo 'acceptance: done'"]
schedule_expression = "rate(1 day)"

[jobs.fails]
command             = ["sh", "-c", "echo 'acceptance: started'; echo 'acceptance: failing on purpose' >&2; exit 3"]
schedule_expression = "rate(1 day)"

[base.notifications]
[[base.notifications.subscriptions]]
protocol             = "sqs"
endpoint             = "$queue_arn"
raw_message_delivery = true

[base.handlers]
success_package    = "$packages/success-handler/bootstrap.zip"
error_package      = "$packages/error-handler/bootstrap.zip"
log_retention_days = 1

[base.compute]
subnets   = [${subnet_list%, }]
vpc_id    = "$vpc"
max_vcpus = 4
EOF
config="$work/sjob.toml"
run_sjob() {
    "$sjob" --config "$config" "$@"
}

run_sjob validate >&2
if [ -z "${SJOB_ACCEPTANCE_HANDLER_ZIPS:-}" ]; then
    step "building the handlers (sjob package)"
    run_sjob package --manifest-path "$workspace/Cargo.toml" >&2
fi
planned_account="$(run_sjob --output json plan | python3 -c 'import json, sys; print(json.load(sys.stdin)["account_id"])')"
[ "$planned_account" = "$account" ] ||
    die "refusing to deploy: sjob resolves account $planned_account, not $account"
step "deploying"
run_sjob deploy --yes >&2

# run JOB EXIT_CODE: runs the job to its end, which must be EXIT_CODE.
run_job() {
    local code=0
    step "running $1"
    run_sjob --output json run "$1" --wait >"$work/run-$1.json" || code=$?
    [ "$code" -eq "$2" ] || die "sjob run $1 --wait exited $code, expected $2: $(cat "$work/run-$1.json")"
}
run_job succeeds 0
run_job fails 3
runs=("$work/run-succeeds.json" "$work/run-fails.json")

step "checking the notifications"
"${helper[@]}" check-notifications --queue-url "$queue_url" --app "$app" --stage "$stage" \
    --exit-code succeeds=0 --exit-code fails=3 "${runs[@]}"

step "checking sjob logs"
# logs_show JOB LINE: the container output of the job's run shows LINE.
logs_show() {
    local execution
    execution="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["execution_arn"])' "$work/run-$1.json")"
    run_sjob logs "$1" --execution "$execution" >"$work/logs-$1.txt"
    grep -qF "$2" "$work/logs-$1.txt" || die "sjob logs $1 does not show \"$2\":$(printf '\n'; cat "$work/logs-$1.txt")"
    echo "sjob logs $1 shows \"$2\""
}
logs_show succeeds "acceptance: done"
logs_show fails "acceptance: failing on purpose"

step "checking sjob status"
run_sjob --output json status >"$work/status.json"
"${helper[@]}" check-status "$work/status.json" "${runs[@]}"
# The EXIT trap destroys the stack and checks nothing is left.
