//! `keyplane eas`: the operator's registry of PAI-EAS services, their instances and workers,
//! and the commands that reach them (read by the terminal gateway when a token is redeemed).

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};
use keyplane_core::{AuthorityConfig, Clock, RequestContext};
use serde_json::json;

use crate::config::{DataArgs, DataConfig, FileConfig};
use crate::installation::{Installation, SystemClock};

fn data_config(args: &DataArgs) -> anyhow::Result<DataConfig> {
    let file = FileConfig::load(args.config.as_deref())?;
    Ok(DataConfig::resolve(args, &file))
}

#[derive(Debug, Subcommand)]
pub enum EasCommand {
    /// Register, delete and list services.
    #[command(subcommand)]
    Service(EasServiceCommand),
    /// Add and remove instances of a service.
    #[command(subcommand)]
    Instance(EasInstanceCommand),
}

#[derive(Debug, Subcommand)]
pub enum EasServiceCommand {
    /// Register a service in a cluster, with the commands that reach a worker's shell and an
    /// instance's log.
    Create(EasServiceCreateArgs),
    /// Delete a service and its instances (tokens issued for them stop working).
    Delete(EasServiceArgs),
    /// Print every service, with its instances and workers, as JSON lines.
    List(EasServiceListArgs),
}

#[derive(Debug, Subcommand)]
pub enum EasInstanceCommand {
    /// Add an instance, with its workers, to a service.
    Add(EasInstanceAddArgs),
    /// Remove an instance from its service (tokens issued for it stop working).
    Remove(EasInstanceArgs),
}

#[derive(Debug, Args)]
pub struct EasServiceArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The cluster (region) id, e.g. cn-shanghai.
    #[arg(long)]
    cluster: String,
    /// The service name.
    #[arg(long)]
    name: String,
}

#[derive(Debug, Args)]
pub struct EasServiceCreateArgs {
    #[command(flatten)]
    service: EasServiceArgs,
    /// The command that opens a shell in a worker, split into words like a shell would (no
    /// expansion); placeholders {cluster}, {service}, {instance}, {worker}. Example:
    /// 'kubectl exec -it {instance} -c {worker} -- /bin/sh'.
    #[arg(long = "exec")]
    exec_template: String,
    /// The command that streams an instance's log, with the same rules. Example:
    /// 'kubectl logs -f {instance} -c {worker}'.
    #[arg(long = "log")]
    log_template: String,
    /// Print the service as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EasServiceListArgs {
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Debug, Args)]
pub struct EasInstanceArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The cluster (region) id.
    #[arg(long)]
    cluster: String,
    /// The service the instance belongs to.
    #[arg(long)]
    service: String,
    /// The instance name.
    #[arg(long)]
    name: String,
}

#[derive(Debug, Args)]
pub struct EasInstanceAddArgs {
    #[command(flatten)]
    instance: EasInstanceArgs,
    /// A worker (container) of the instance; repeatable, at least one. The first is the
    /// default when a token request names none.
    #[arg(long = "worker", required = true)]
    workers: Vec<String>,
    /// Print the instance as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs an operator use case on the installation's account, closing the installation after.
async fn on_account<T>(
    data: &DataArgs,
    action: &str,
    work: impl AsyncFnOnce(
        &keyplane_core::Authority,
        u64,
        &RequestContext,
    ) -> Result<T, keyplane_core::CoreError>,
) -> anyhow::Result<T> {
    let data = data_config(data)?;
    let installation = Installation::open(&data, AuthorityConfig::default(), false).await?;
    let result = async {
        let authority = &installation.authority;
        let account = authority
            .primary_account()
            .await
            .map_err(|error| anyhow::anyhow!("reading the account: {error}"))?;
        let context =
            RequestContext::operator(SystemClock.now(), uuid::Uuid::new_v4().to_string(), action);
        work(authority, account.id, &context)
            .await
            .map_err(|error| anyhow::anyhow!("{}", crate::operator_message::describe(&error)))
    }
    .await;
    installation.close().await;
    result
}

fn rfc3339(moment: time::OffsetDateTime) -> String {
    moment
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn eas_service_json(service: &keyplane_core::model::EasService) -> serde_json::Value {
    json!({
        "cluster": service.cluster,
        "name": service.name,
        "exec": service.exec_template.words(),
        "log": service.log_template.words(),
        "created_at": rfc3339(service.created_at),
    })
}

fn eas_instance_json(instance: &keyplane_core::model::EasInstance) -> serde_json::Value {
    json!({
        "cluster": instance.cluster,
        "service": instance.service,
        "name": instance.name,
        "workers": instance.workers,
        "created_at": rfc3339(instance.created_at),
    })
}

pub async fn eas(command: EasCommand) -> anyhow::Result<()> {
    use keyplane_core::authority::{NewEasInstanceRequest, NewEasServiceRequest};
    match command {
        EasCommand::Service(EasServiceCommand::Create(args)) => {
            let request = NewEasServiceRequest {
                cluster: args.service.cluster.clone(),
                name: args.service.name.clone(),
                exec_template: args.exec_template.clone(),
                log_template: args.log_template.clone(),
            };
            let service = on_account(
                &args.service.data,
                "CreateEasService",
                async |authority, account_id, context| {
                    authority
                        .create_eas_service(context, account_id, request)
                        .await
                },
            )
            .await
            .context("registering the service")?;
            if args.json {
                println!("{}", eas_service_json(&service));
            } else {
                println!(
                    "Registered service {}/{}: exec {:?}, log {:?}",
                    service.cluster,
                    service.name,
                    service.exec_template.words(),
                    service.log_template.words()
                );
            }
        }
        EasCommand::Service(EasServiceCommand::Delete(args)) => {
            on_account(
                &args.data,
                "DeleteEasService",
                async |authority, account_id, context| {
                    authority
                        .delete_eas_service(context, account_id, &args.cluster, &args.name)
                        .await
                },
            )
            .await
            .context("deleting the service")?;
            println!("Deleted service {}/{}", args.cluster, args.name);
        }
        EasCommand::Service(EasServiceCommand::List(args)) => {
            let registry = on_account(
                &args.data,
                "ListEasServices",
                async |authority, account_id, _| authority.eas_registry(account_id).await,
            )
            .await
            .context("reading the services")?;
            let mut output = std::io::stdout().lock();
            for (service, instances) in registry {
                let mut line = eas_service_json(&service);
                line["instances"] = instances
                    .iter()
                    .map(|instance| {
                        json!({
                            "name": instance.name,
                            "workers": instance.workers,
                            "created_at": rfc3339(instance.created_at),
                        })
                    })
                    .collect();
                if let Err(error) = writeln!(output, "{line}") {
                    if error.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    return Err(error.into());
                }
            }
        }
        EasCommand::Instance(EasInstanceCommand::Add(args)) => {
            let request = NewEasInstanceRequest {
                cluster: args.instance.cluster.clone(),
                service: args.instance.service.clone(),
                name: args.instance.name.clone(),
                workers: args.workers.clone(),
            };
            let instance = on_account(
                &args.instance.data,
                "AddEasInstance",
                async |authority, account_id, context| {
                    authority
                        .add_eas_instance(context, account_id, request)
                        .await
                },
            )
            .await
            .context("adding the instance")?;
            if args.json {
                println!("{}", eas_instance_json(&instance));
            } else {
                println!(
                    "Added instance {}/{}/{} with workers {}",
                    instance.cluster,
                    instance.service,
                    instance.name,
                    instance.workers.join(", ")
                );
            }
        }
        EasCommand::Instance(EasInstanceCommand::Remove(args)) => {
            on_account(
                &args.data,
                "RemoveEasInstance",
                async |authority, account_id, context| {
                    authority
                        .remove_eas_instance(
                            context,
                            account_id,
                            &args.cluster,
                            &args.service,
                            &args.name,
                        )
                        .await
                },
            )
            .await
            .context("removing the instance")?;
            println!(
                "Removed instance {}/{}/{}",
                args.cluster, args.service, args.name
            );
        }
    }
    Ok(())
}
