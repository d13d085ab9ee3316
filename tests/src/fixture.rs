//! What most end-to-end tests start from.

use std::time::Duration;

use crate::myapp::{Targets, HANDLER_FUNCTIONS};
use crate::{handler_binary, Aws, Delivery, Emulator, Sjob};

/// An emulator of its own, SDK clients on it, and `sjob` pointed at it.
pub struct Fixture {
    pub emulator: Emulator,
    pub aws: Aws,
    pub sjob: Sjob,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let emulator = Emulator::start().await;
        let aws = Aws::new(&emulator.sdk_config());
        let sjob = Sjob::new(&emulator);
        Fixture {
            emulator,
            aws,
            sjob,
        }
    }
}

impl Fixture {
    /// The job queue and the two handler functions [`Targets::nowhere`]
    /// names, made to exist: what a plan reads before it writes, for suites
    /// that deploy but never run a job.
    pub async fn existing_targets(&self) -> Targets {
        let targets = Targets::nowhere();
        self.aws.create_targets(&targets).await;
        targets
    }
}

impl Aws {
    /// Makes `targets` exist in this client's region: its job queue (on an
    /// unmanaged compute environment) and its two functions, which run
    /// nothing.
    pub async fn create_targets(&self, targets: &Targets) {
        let name = |arn: &str, separator: char| {
            arn.rsplit(separator)
                .next()
                .expect("an ARN ends in a name")
                .to_string()
        };
        for function in [&targets.success_handler, &targets.error_handler] {
            self.create_function(&name(function, ':'), &[], Duration::from_secs(30))
                .await;
        }
        let queue = self.create_job_queue(&name(&targets.queue, '/')).await;
        assert_eq!(queue, targets.queue);
    }
}

/// What a deployed job's runs need: the two handler functions running the
/// real binaries, the topic they publish to with a raw SQS subscriber, and
/// a Fargate job queue. Built by [`HandlersBuilder`].
pub struct Handlers {
    pub topic_arn: String,
    /// The subscriber's queue URL (`None` on an existing topic).
    pub subscriber: Option<String>,
    /// The job queue and the functions' ARNs, for [`crate::myapp::config`].
    pub targets: Targets,
}

/// Builds [`Handlers`]: the `myapp-dev` names, 30-second functions, and
/// whatever more environment the suite needs (an endpoint through a fault
/// proxy, a log level).
pub struct HandlersBuilder<'a> {
    emulator: &'a Emulator,
    aws: &'a Aws,
    topic: String,
    existing_topic: Option<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
}

impl Fixture {
    pub fn handlers(&self) -> HandlersBuilder<'_> {
        HandlersBuilder::new(&self.emulator, &self.aws)
    }
}

impl<'a> HandlersBuilder<'a> {
    pub fn new(emulator: &'a Emulator, aws: &'a Aws) -> HandlersBuilder<'a> {
        HandlersBuilder {
            emulator,
            aws,
            topic: "myapp-dev-job-notifications".to_string(),
            existing_topic: None,
            env: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Publish to this topic, whose subscribers are the caller's, instead
    /// of a new one with a subscriber.
    pub fn existing_topic(mut self, arn: &str) -> Self {
        self.existing_topic = Some(arn.to_string());
        self
    }

    /// An environment variable of both functions.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub async fn build(self) -> Handlers {
        let (topic_arn, subscriber) = match &self.existing_topic {
            Some(arn) => (arn.clone(), None),
            None => {
                let arn = self.aws.create_topic(&self.topic).await;
                let queue = self
                    .aws
                    .subscribe_queue(&arn, &self.topic, Delivery::Raw)
                    .await;
                (arn, Some(queue))
            }
        };
        let mut env = vec![("SNS_TOPIC_ARN", topic_arn.as_str())];
        env.extend(self.env.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        for (function, binary) in HANDLER_FUNCTIONS {
            self.aws.create_function(function, &env, self.timeout).await;
            self.emulator
                .register_lambda(function, &handler_binary(binary))
                .await;
        }
        let network = self.emulator.default_network().await;
        let queue = self
            .aws
            .create_fargate_job_queue("myapp-dev-jobs", &network)
            .await;
        Handlers {
            topic_arn,
            subscriber,
            targets: Targets::with_queue(queue),
        }
    }
}
