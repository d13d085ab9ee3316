//! `sjob render`.

use clap::ValueEnum;
use miette::Result;
use serde_json::Value;
use sjob::render::base;
use sjob::render::job::{self, JobDocument};
use sjob::terraform;

use super::context::{Context, Document};

#[derive(clap::Args)]
pub struct RenderArgs {
    /// The job to render (every job by default).
    job: Option<String>,
    /// Which documents to print.
    #[arg(long, value_enum, default_value_t = What::All)]
    what: What,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum What {
    /// The state machine definition (Amazon States Language).
    Asl,
    /// The roles and their policies.
    Iam,
    /// The state machine, the roles and the resource names.
    All,
    /// The shared base of `[base]`: topic, subscriptions, functions, compute.
    Base,
    /// The `templatefile()` templates of `infra/terraform`, by path; needs no config.
    Terraform,
}

impl RenderArgs {
    pub async fn run(&self, ctx: &Context) -> Result<Document> {
        let document = match self.what {
            What::Terraform => {
                let templates = terraform::templates()
                    .into_iter()
                    .map(|(path, text)| (path.display().to_string(), Value::String(text)));
                return Ok(Document(Value::Object(templates.collect())));
            }
            What::Base => {
                let mut session = ctx.session().await?;
                session.resolve_topic_key().await?;
                return Ok(Document(base::describe(&session.render_base()?)));
            }
            What::Asl => JobDocument::StateMachine,
            What::Iam => JobDocument::Iam,
            What::All => JobDocument::All,
        };
        let mut session = ctx.session().await?;
        session.resolve_topic_key().await?;
        let mut rendered = serde_json::Map::new();
        for job in session.config.select(self.job.as_slice())? {
            let stack = session.render(job);
            rendered.insert(job.batch_name.clone(), job::describe(&stack, document));
        }
        Ok(Document(match (&self.job, rendered.len()) {
            (Some(_), 1) => rendered.into_values().next().unwrap_or_default(),
            _ => Value::Object(rendered),
        }))
    }
}
