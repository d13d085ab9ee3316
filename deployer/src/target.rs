//! Where a stack goes: the account and region every ARN is built for. A
//! leaf: the config, the renderers and the AWS layer all build ARNs with it.

use handlers::partition::Partition;

/// Where a stack goes: the account and region ARNs are built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub account_id: String,
    pub region: String,
}

impl Target {
    /// `aws`, `aws-cn` or `aws-us-gov`, from the region.
    pub fn partition(&self) -> Partition {
        Partition::of_region(&self.region)
    }

    /// A Step Functions service integration's resource in this partition.
    pub fn integration(&self, resource: &str) -> String {
        self.partition().integration(resource)
    }

    /// A service's principal in this partition.
    pub fn service_principal(&self, service: &str) -> String {
        self.partition().service_principal(service)
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition(),
            self.region,
            self.account_id
        )
    }

    /// IAM ARNs have no region.
    pub fn role_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:iam::{}:role/{name}",
            self.partition(),
            self.account_id
        )
    }

    pub fn state_machine_arn(&self, name: &str) -> String {
        self.arn("states", &format!("stateMachine:{name}"))
    }

    /// The executions of the state machine `name`, any of them.
    pub fn executions_arn(&self, name: &str) -> String {
        self.arn("states", &format!("execution:{name}:*"))
    }

    pub fn table_arn(&self, name: &str) -> String {
        self.arn("dynamodb", &format!("table/{name}"))
    }

    pub fn job_definition_arn(&self, name: &str) -> String {
        self.arn("batch", &format!("job-definition/{name}"))
    }

    pub fn log_group_arn(&self, name: &str) -> String {
        self.arn("logs", &format!("log-group:{name}"))
    }

    pub fn alarm_arn(&self, name: &str) -> String {
        self.arn("cloudwatch", &format!("alarm:{name}"))
    }

    pub fn job_queue_arn(&self, name: &str) -> String {
        self.arn("batch", &format!("job-queue/{name}"))
    }

    pub fn compute_environment_arn(&self, name: &str) -> String {
        self.arn("batch", &format!("compute-environment/{name}"))
    }

    pub fn function_arn(&self, name: &str) -> String {
        self.arn("lambda", &format!("function:{name}"))
    }

    pub fn topic_arn(&self, name: &str) -> String {
        self.arn("sns", name)
    }
}
