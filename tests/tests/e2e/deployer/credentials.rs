//! Credentials from a profile that assumes a role: a command resolves them
//! once, and every call it makes signs with them, the SDK clients' and the
//! calls sjob signs itself (EC2's security group, CloudWatch's alarms)
//! alike.

use std::time::Duration;

use sjob_e2e::myapp::{lambda_arn, ACCOUNT, ERROR_FUNCTION, SUCCESS_FUNCTION};
use sjob_e2e::{Aws, Emulator, FaultPlan, FaultProxy, Sjob, REGION};

#[tokio::test]
async fn a_deploy_with_an_assume_role_profile_assumes_the_role_once() {
    let emulator = Emulator::start().await;
    let aws = Aws::new(&emulator.sdk_config());
    // The missed-run alarm may invoke the error handler: both must exist.
    for function in [SUCCESS_FUNCTION, ERROR_FUNCTION] {
        aws.create_function(function, &[], Duration::from_secs(30))
            .await;
    }
    let network = emulator.default_network().await;
    let proxy = FaultProxy::start(&emulator.endpoint(), FaultPlan::none()).await;
    // Keys only in the source profile: the deploy's credentials are the
    // role's, from STS AssumeRole (through the proxy, which counts it).
    let sjob = Sjob::at(proxy.endpoint())
        .without_env("AWS_ACCESS_KEY_ID")
        .without_env("AWS_SECRET_ACCESS_KEY")
        .with_env("AWS_PROFILE", "deployer");
    std::fs::write(
        sjob.dir().join("aws-config"),
        format!(
            "[profile deployer]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/sjob-deployer\n\
             source_profile = keys\n\n\
             [profile keys]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        ),
    )
    .expect("write the AWS config file");
    sjob.write_config(&format!(
        r#"app_name = "myapp"
stage = "dev"
region = "{REGION}"

[defaults]
image_uri = "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/myapp"
success_handler_arn = "{success}"
error_handler_arn = "{error}"

[base.compute]
subnets = {subnets}
vpc_id = "{vpc}"

[jobs.report]
command = ["python", "-m", "report"]
schedule_expression = "cron(0 3 * * ? *)"
expect_success_within = "26h"
"#,
        success = lambda_arn(SUCCESS_FUNCTION),
        error = lambda_arn(ERROR_FUNCTION),
        subnets = serde_json::to_string(&network.subnets).unwrap(),
        vpc = network.vpc,
    ));

    sjob.run_expecting(0, &["deploy"]).await;

    let calls = proxy.calls();
    let count = |action: &str| calls.iter().filter(|c| c.action == action).count();
    assert!(
        count("CreateSecurityGroup") == 1 && count("PutMetricAlarm") == 1,
        "the deploy made signed calls to EC2 and CloudWatch: {calls:?}"
    );
    assert_eq!(
        count("AssumeRole"),
        1,
        "one AssumeRole for the whole deploy, not one per signed call: {calls:?}"
    );
}
