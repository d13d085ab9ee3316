//! The one error of every AWS call, what it means (a denial, "already
//! exists", worth a re-run), and the service's error code of an SDK error.

use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};

use super::pace;
use crate::model::Identity;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AwsError {
    #[error("{action} {resource} failed: {message}")]
    #[diagnostic(code(sjob::aws::call))]
    Call {
        action: &'static str,
        resource: String,
        message: String,
        /// The service's error code, when it answered with one.
        code: Option<String>,
    },
    #[error("{kind} `{name}` exists but is not this stack's: its tags say {owner}; sjob leaves it alone")]
    #[diagnostic(
        code(sjob::aws::not_managed),
        help("nothing of it was changed; when two stacks' names collide, rename a job, the app or the stage (see Ownership in the README)")
    )]
    NotManaged {
        kind: &'static str,
        name: String,
        owner: Identity,
    },
    /// No answer came: the connection failed or the call timed out.
    #[error("{action} {resource} failed: {message}")]
    #[diagnostic(code(sjob::aws::unanswered))]
    Unanswered {
        action: &'static str,
        resource: String,
        message: String,
    },
    /// A change AWS makes asynchronously did not settle in time.
    #[error("{resource}: still {what} after {seconds} s")]
    #[diagnostic(code(sjob::aws::still_waiting))]
    StillWaiting {
        resource: String,
        what: String,
        seconds: u64,
    },
    #[error(
        "{action} {resource}: the new IAM role was still not usable after {seconds} s: {message}"
    )]
    #[diagnostic(
        code(sjob::aws::iam_propagation),
        help("IAM had not yet made the role usable to the service; a re-run finishes once it has")
    )]
    RoleNotReady {
        action: &'static str,
        resource: String,
        seconds: u64,
        message: String,
    },
    #[error("{action} {resource} was denied: {denial}")]
    #[diagnostic(
        code(sjob::aws::denied),
        help("nothing was retried: the credentials sjob runs with lack this permission. \"Deploying to real AWS\" in the README lists every permission sjob needs")
    )]
    Denied {
        action: &'static str,
        resource: String,
        denial: Box<Denial>,
        /// The service's error code (`AccessDenied`, `AccessDeniedException`).
        code: String,
    },
}

/// What a service's denial of the caller says: "User: <principal> is not
/// authorized to perform: <permission> on resource: <resource>", the
/// wording every service uses for its caller's missing permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The caller: a user or an assumed role's session.
    pub principal: String,
    /// The IAM action, such as `iam:PassRole`.
    pub permission: String,
    /// The resource the action was denied on, when the message names one.
    pub resource: Option<String>,
}

impl Denial {
    /// The denial in a service's message, if the message is one.
    pub fn parse(message: &str) -> Option<Denial> {
        let (_, rest) = message.split_once("User: ")?;
        let (principal, rest) = rest.split_once(" is not authorized to perform: ")?;
        let word = |text: &str| {
            text.split(|c: char| c.is_whitespace() || c == ',')
                .next()
                .unwrap_or_default()
                .trim_end_matches('.')
                .to_string()
        };
        let permission = word(rest);
        let resource = rest
            .split_once(" on resource: ")
            .map(|(_, resource)| word(resource));
        (!principal.is_empty() && permission.contains(':')).then(|| Denial {
            principal: principal.to_string(),
            permission,
            resource,
        })
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} may not perform {}", self.principal, self.permission)?;
        if let Some(resource) = &self.resource {
            write!(f, " on {resource}")?;
        }
        Ok(())
    }
}

impl AwsError {
    /// A failed call. A service's answer reads as its code and message; a
    /// failure to get one (connection, timeout) keeps the whole chain.
    pub fn call<E>(action: &'static str, resource: impl Into<String>, err: E) -> AwsError
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_string);
        if let (Some(code), Some(denial)) = (&code, err.message().and_then(Denial::parse)) {
            return AwsError::Denied {
                action,
                resource: resource.into(),
                denial: Box::new(denial),
                code: code.clone(),
            };
        }
        let message = match (&code, err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.clone(),
            (None, _) => {
                return AwsError::Unanswered {
                    action,
                    resource: resource.into(),
                    message: DisplayErrorContext(err).to_string(),
                }
            }
        };
        AwsError::Call {
            action,
            resource: resource.into(),
            message,
            code,
        }
    }

    /// Whether running the command again can get past this error: AWS was
    /// throttling, failing on its side or busy with a concurrent change,
    /// did not answer, a new role had not propagated, or a change had not
    /// settled in time. Not a missing resource, a refused request or a
    /// resource that is not the stack's: those fail the same way again.
    pub fn can_pass_on_rerun(&self) -> bool {
        /// Server-side failures and concurrent changes, across services.
        const PASSING: [&str; 13] = [
            "InternalFailure",
            "InternalError",
            "InternalServerError",
            "InternalServiceError",
            "InternalServiceErrorException",
            "ServiceException",
            "ServiceUnavailable",
            "ServiceUnavailableException",
            "Unavailable",
            "ConcurrentModification",
            "ConcurrentModificationException",
            "OperationAbortedException",
            "ResourceConflictException",
        ];
        match self {
            AwsError::Call { code, .. } => code.as_deref().is_some_and(|code| {
                pace::THROTTLING_CODES.contains(&code)
                    || aws_runtime::retries::classifiers::TRANSIENT_ERRORS.contains(&code)
                    || PASSING.contains(&code)
            }),
            AwsError::Unanswered { .. }
            | AwsError::StillWaiting { .. }
            | AwsError::RoleNotReady { .. } => true,
            AwsError::NotManaged { .. } | AwsError::Denied { .. } => false,
        }
    }

    /// A failure sjob itself finds in an answer, with no service code.
    pub fn other(
        action: &'static str,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> AwsError {
        AwsError::Call {
            action,
            resource: resource.into(),
            message: message.into(),
            code: None,
        }
    }

    /// The service's error code, when it answered with one.
    pub fn service_code(&self) -> Option<&str> {
        match self {
            AwsError::Call { code, .. } => code.as_deref(),
            AwsError::Denied { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether a create failed because the resource exists: each service's
    /// own code, and for SNS and Batch, which answer with a generic code,
    /// their message.
    pub fn is_already_exists(&self) -> bool {
        const CODES: [&str; 7] = [
            "EntityAlreadyExists",            // IAM
            "ResourceAlreadyExistsException", // CloudWatch Logs
            "StateMachineAlreadyExists",      // Step Functions
            "ConflictException",              // EventBridge Scheduler
            "ResourceConflictException",      // Lambda
            "InvalidGroup.Duplicate",         // EC2
            "ResourceInUseException",         // DynamoDB (CreateTable)
        ];
        match self {
            AwsError::Call { code, message, .. } => match code.as_deref() {
                Some(code) if CODES.contains(&code) => true,
                Some("InvalidParameter" | "ClientException") => {
                    message.to_ascii_lowercase().contains("already exist")
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// The service error code of an SDK error, if the service answered.
pub fn error_code<E: ProvideErrorMetadata>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::http::Response,
    >,
) -> Option<&str> {
    err.as_service_error().and_then(|e| e.code())
}

#[cfg(test)]
pub(super) mod tests {
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    pub(crate) fn answer(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    /// Step Functions' answer when the caller may not pass the role.
    pub(crate) const PASS_ROLE_DENIED: &str = "User: arn:aws:sts::123456789012:assumed-role/deployer/ci is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/myapp-dev-crawler-StatesRole because no identity-based policy allows the iam:PassRole action";

    #[test]
    fn a_denial_names_the_caller_the_permission_and_the_resource() {
        assert_eq!(
            Denial::parse(PASS_ROLE_DENIED),
            Some(Denial {
                principal: "arn:aws:sts::123456789012:assumed-role/deployer/ci".into(),
                permission: "iam:PassRole".into(),
                resource: Some(
                    "arn:aws:iam::123456789012:role/myapp-dev-crawler-StatesRole".into()
                ),
            })
        );
        let without_resource = Denial::parse(
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: tag:GetResources",
        )
        .unwrap();
        assert_eq!(without_resource.permission, "tag:GetResources");
        assert_eq!(without_resource.resource, None);
        assert_eq!(
            without_resource.to_string(),
            "arn:aws:iam::123456789012:user/ci may not perform tag:GetResources"
        );
    }

    #[test]
    fn a_service_that_cannot_assume_a_role_is_no_denial_of_the_caller() {
        for message in [
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.",
            "The role defined for the function cannot be assumed by Lambda.",
            "Rate exceeded",
        ] {
            assert_eq!(Denial::parse(message), None, "{message}");
        }
    }

    #[test]
    fn a_denied_call_is_a_typed_error_naming_action_permission_and_resource() {
        let err = AwsError::call(
            "CreateStateMachine",
            "myapp-dev-crawler",
            answer("AccessDeniedException", PASS_ROLE_DENIED),
        );
        assert!(
            matches!(&err, AwsError::Denied { denial, .. } if denial.permission == "iam:PassRole")
        );
        assert_eq!(err.service_code(), Some("AccessDeniedException"));
        let text = err.to_string();
        assert!(
            text.starts_with("CreateStateMachine myapp-dev-crawler was denied"),
            "{text}"
        );
        assert!(
            text.contains(
                "iam:PassRole on arn:aws:iam::123456789012:role/myapp-dev-crawler-StatesRole"
            ),
            "{text}"
        );
    }
}
