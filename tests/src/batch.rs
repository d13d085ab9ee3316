//! A Batch job queue in the emulator: a managed Fargate compute environment
//! on the default VPC, as a real account would have one.

use std::collections::BTreeMap;

use aws_sdk_batch::operation::create_compute_environment::builders::CreateComputeEnvironmentFluentBuilder as CreateEnvironment;
use aws_sdk_batch::types::{
    CeState, CeType, ComputeEnvironmentOrder, ComputeResource, CrType, JqState,
};
use aws_sdk_sns::error::DisplayErrorContext;

use crate::http::xml_values;
use crate::{http, Aws, Emulator, REGION};

/// The emulator's default VPC: where a Fargate compute environment runs.
#[derive(Debug, Clone)]
pub struct DefaultNetwork {
    /// The default subnet of each availability zone.
    pub subnets: Vec<String>,
    /// The VPC's `default` security group.
    pub security_group: String,
    /// The default VPC's id.
    pub vpc: String,
}

impl Emulator {
    /// The default subnets and security group, from EC2 DescribeSubnets and
    /// DescribeSecurityGroups.
    pub async fn default_network(&self) -> DefaultNetwork {
        let subnets = self
            .ec2(&[
                ("Action", "DescribeSubnets"),
                ("Filter.1.Name", "default-for-az"),
                ("Filter.1.Value.1", "true"),
            ])
            .await;
        let groups = self
            .ec2(&[
                ("Action", "DescribeSecurityGroups"),
                ("Filter.1.Name", "group-name"),
                ("Filter.1.Value.1", "default"),
            ])
            .await;
        let vpc = xml_values(&subnets, "vpcId")
            .into_iter()
            .next()
            .expect("the default subnets are in a VPC");
        let subnets = xml_values(&subnets, "subnetId");
        assert!(!subnets.is_empty(), "the emulator has no default subnets");
        // The first groupId of an item is the group's own (later ones are
        // in its rules).
        let security_group = xml_values(&groups, "groupId")
            .into_iter()
            .next()
            .expect("the emulator has a default security group");
        DefaultNetwork {
            subnets,
            security_group,
            vpc,
        }
    }

    /// The ids of the security groups of that name.
    pub async fn security_group_ids(&self, name: &str) -> Vec<String> {
        self.security_group_vpcs(name).await.into_keys().collect()
    }

    /// Creates a security group with `tags`, as another stack or a person
    /// would; its id.
    pub async fn create_security_group(
        &self,
        name: &str,
        vpc: &str,
        tags: &[(&str, &str)],
    ) -> String {
        let mut parameters = vec![
            ("Action".to_string(), "CreateSecurityGroup".to_string()),
            ("GroupName".into(), name.into()),
            ("GroupDescription".into(), "made by hand".into()),
            ("VpcId".into(), vpc.into()),
            (
                "TagSpecification.1.ResourceType".into(),
                "security-group".into(),
            ),
        ];
        for (n, (key, value)) in tags.iter().enumerate() {
            parameters.push((
                format!("TagSpecification.1.Tag.{}.Key", n + 1),
                key.to_string(),
            ));
            parameters.push((
                format!("TagSpecification.1.Tag.{}.Value", n + 1),
                value.to_string(),
            ));
        }
        let parameters: Vec<(&str, &str)> = parameters
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let created = self.ec2(&parameters).await;
        xml_values(&created, "groupId")
            .into_iter()
            .next()
            .expect("CreateSecurityGroup answers with the group's id")
    }

    /// A new VPC (`cidr`, a /16) with one subnet, as a second network of
    /// the account; its default security group is the VPC's own.
    pub async fn create_network(&self, cidr: &str) -> DefaultNetwork {
        let created = self
            .ec2(&[("Action", "CreateVpc"), ("CidrBlock", cidr)])
            .await;
        let vpc = xml_values(&created, "vpcId")
            .into_iter()
            .next()
            .expect("CreateVpc answers with the VPC's id");
        let subnet_cidr = cidr.replace(".0.0/16", ".1.0/24");
        let subnet = self
            .ec2(&[
                ("Action", "CreateSubnet"),
                ("VpcId", &vpc),
                ("CidrBlock", &subnet_cidr),
            ])
            .await;
        let groups = self
            .ec2(&[
                ("Action", "DescribeSecurityGroups"),
                ("Filter.1.Name", "vpc-id"),
                ("Filter.1.Value.1", &vpc),
            ])
            .await;
        DefaultNetwork {
            subnets: xml_values(&subnet, "subnetId"),
            security_group: xml_values(&groups, "groupId")
                .into_iter()
                .next()
                .expect("a new VPC has a default security group"),
            vpc,
        }
    }

    /// The VPC of each security group of that name, by group id. (sjob's
    /// groups have no rules naming other groups, so every `groupId` is a
    /// group's own.)
    pub async fn security_group_vpcs(&self, name: &str) -> BTreeMap<String, String> {
        let groups = self
            .ec2(&[
                ("Action", "DescribeSecurityGroups"),
                ("Filter.1.Name", "group-name"),
                ("Filter.1.Value.1", name),
            ])
            .await;
        xml_values(&groups, "groupId")
            .into_iter()
            .zip(xml_values(&groups, "vpcId"))
            .collect()
    }

    /// One EC2 (Query protocol) call; the XML answer.
    async fn ec2(&self, parameters: &[(&str, &str)]) -> String {
        let mut parameters = parameters.to_vec();
        parameters.push(("Version", "2016-11-15"));
        let response = http::send_query(self.port(), "ec2", REGION, &parameters)
            .await
            .unwrap_or_else(|e| panic!("EC2 {parameters:?}: {e}"));
        let body = String::from_utf8_lossy(&response.body).into_owned();
        assert_eq!(response.status, 200, "EC2 {parameters:?}: {body}");
        body
    }
}

impl Aws {
    /// Creates a managed Fargate compute environment `<name>-fargate` on
    /// `network` and a job queue `name` on it; returns the queue's ARN.
    pub async fn create_fargate_job_queue(&self, name: &str, network: &DefaultNetwork) -> String {
        let resources = ComputeResource::builder()
            .r#type(CrType::Fargate)
            .maxv_cpus(16)
            .set_subnets(Some(network.subnets.clone()))
            .security_group_ids(&network.security_group)
            .build();
        let environment = self
            .batch
            .create_compute_environment()
            .compute_environment_name(format!("{name}-fargate"))
            .r#type(CeType::Managed)
            .compute_resources(resources);
        self.create_job_queue_on(name, environment).await
    }

    /// Creates a job queue `name` on an unmanaged compute environment
    /// `<name>-unmanaged`: a queue that exists, in any region, for tests
    /// that never run a job on it; its ARN.
    pub async fn create_job_queue(&self, name: &str) -> String {
        let environment = self
            .batch
            .create_compute_environment()
            .compute_environment_name(format!("{name}-unmanaged"))
            .r#type(CeType::Unmanaged)
            .service_role(self.batch_service_role().await);
        self.create_job_queue_on(name, environment).await
    }

    /// A role for unmanaged compute environments, one per emulator (IAM
    /// is global): made once, found after.
    async fn batch_service_role(&self) -> String {
        const NAME: &str = "e2e-batch-service";
        let created = self
            .iam
            .create_role()
            .role_name(NAME)
            .assume_role_policy_document(crate::trust_policy("batch.amazonaws.com").to_string())
            .send()
            .await;
        match created {
            Ok(out) => out.role.expect("CreateRole returns the role").arn,
            Err(_) => self.existing_role(NAME).await.arn,
        }
    }

    /// Creates `environment`, enabled, and the job queue `name` on it; the
    /// queue's ARN.
    async fn create_job_queue_on(&self, name: &str, environment: CreateEnvironment) -> String {
        let environment_arn = environment
            .state(CeState::Enabled)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateComputeEnvironment for {name}: {}",
                    DisplayErrorContext(e)
                )
            })
            .compute_environment_arn
            .expect("CreateComputeEnvironment returns an ARN");
        let order = ComputeEnvironmentOrder::builder()
            .order(1)
            .compute_environment(environment_arn)
            .build();
        self.batch
            .create_job_queue()
            .job_queue_name(name)
            .state(JqState::Enabled)
            .priority(1)
            .compute_environment_order(order)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateJobQueue {name}: {}", DisplayErrorContext(e)))
            .job_queue_arn
            .expect("CreateJobQueue returns an ARN")
    }
}
