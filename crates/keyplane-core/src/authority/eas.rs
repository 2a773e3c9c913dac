//! The EAS service registry: services (with the operator's command templates), their
//! instances and workers, and resolving the worker a request names.

use super::{Authority, RequestContext};
use crate::error::CoreError;
use crate::model::{EasInstance, EasService};
use crate::rules;
use crate::store::{EasInstanceName, EasServiceName};
use crate::template::CommandTemplate;
use crate::validation::{Field, Violation};

/// The most workers one EAS instance may list.
pub const MAX_WORKERS_PER_INSTANCE: usize = 64;

/// An EAS service to register: names and the operator's command templates (as typed; they are
/// split into words here, see `template`).
#[derive(Debug, Clone)]
pub struct NewEasServiceRequest {
    pub cluster: String,
    pub name: String,
    pub exec_template: String,
    pub log_template: String,
}

/// An EAS instance to add to a registered service, with its workers (at least one; the first
/// is the default worker).
#[derive(Debug, Clone)]
pub struct NewEasInstanceRequest {
    pub cluster: String,
    pub service: String,
    pub name: String,
    pub workers: Vec<String>,
}

impl Authority {
    /// Registers an EAS service in a cluster, with the operator's exec and log templates
    /// (split into words here, once). Only an operator or the account's root may.
    pub async fn create_eas_service(
        &self,
        context: &RequestContext,
        account_id: u64,
        request: NewEasServiceRequest,
    ) -> Result<EasService, CoreError> {
        context.operator_or_authorized(account_id)?;
        rules::check_eas_name(Field::EasCluster, &request.cluster)?;
        rules::check_eas_name(Field::EasServiceName, &request.name)?;
        let template = |field: Field, text: &str| {
            CommandTemplate::parse(text)
                .map_err(|error| CoreError::invalid(field, Violation::Template(error)))
        };
        let service = EasService {
            account_id,
            exec_template: template(Field::EasExecTemplate, &request.exec_template)?,
            log_template: template(Field::EasLogTemplate, &request.log_template)?,
            cluster: request.cluster,
            name: request.name,
            created_at: context.now,
        };
        let audit = context.success(format!("{}/{}", service.cluster, service.name));
        Ok(self.store.create_eas_service(service, audit).await?)
    }

    /// Deletes an EAS service and its instances; tokens issued for them can no longer be
    /// redeemed.
    pub async fn delete_eas_service(
        &self,
        context: &RequestContext,
        account_id: u64,
        cluster: &str,
        name: &str,
    ) -> Result<(), CoreError> {
        context.operator_or_authorized(account_id)?;
        let audit = context.success(format!("{cluster}/{name}"));
        Ok(self
            .store
            .delete_eas_service(EasServiceName::new(account_id, cluster, name), audit)
            .await?)
    }

    /// Adds an instance, with its workers (1 to 64 distinct names), to a registered service.
    pub async fn add_eas_instance(
        &self,
        context: &RequestContext,
        account_id: u64,
        request: NewEasInstanceRequest,
    ) -> Result<EasInstance, CoreError> {
        context.operator_or_authorized(account_id)?;
        rules::check_eas_name(Field::EasCluster, &request.cluster)?;
        rules::check_eas_name(Field::EasServiceName, &request.service)?;
        rules::check_eas_name(Field::EasInstanceName, &request.name)?;
        if request.workers.is_empty() || request.workers.len() > MAX_WORKERS_PER_INSTANCE {
            return Err(CoreError::invalid(
                Field::EasWorkerName,
                Violation::EntryCount {
                    minimum: 1,
                    maximum: MAX_WORKERS_PER_INSTANCE,
                },
            ));
        }
        for (index, worker) in request.workers.iter().enumerate() {
            rules::check_eas_name(Field::EasWorkerName, worker)?;
            if request.workers[..index].contains(worker) {
                return Err(CoreError::invalid(
                    Field::EasWorkerName,
                    Violation::Duplicate {
                        value: worker.clone(),
                    },
                ));
            }
        }
        let instance = EasInstance {
            account_id,
            cluster: request.cluster,
            service: request.service,
            name: request.name,
            workers: request.workers,
            created_at: context.now,
        };
        let audit = context.success(format!(
            "{}/{}/{}",
            instance.cluster, instance.service, instance.name
        ));
        Ok(self.store.add_eas_instance(instance, audit).await?)
    }

    /// Removes an instance from its service.
    pub async fn remove_eas_instance(
        &self,
        context: &RequestContext,
        account_id: u64,
        cluster: &str,
        service: &str,
        name: &str,
    ) -> Result<(), CoreError> {
        context.operator_or_authorized(account_id)?;
        let audit = context.success(format!("{cluster}/{service}/{name}"));
        Ok(self
            .store
            .remove_eas_instance(
                EasInstanceName::new(account_id, cluster, service, name),
                audit,
            )
            .await?)
    }

    /// The account's EAS services, each with its instances, for operators.
    pub async fn eas_registry(
        &self,
        account_id: u64,
    ) -> Result<Vec<(EasService, Vec<EasInstance>)>, CoreError> {
        let mut registry = Vec::new();
        for service in self.store.list_eas_services(account_id).await? {
            let instances = self
                .store
                .list_eas_instances(account_id, &service.cluster, &service.name)
                .await?;
            registry.push((service, instances));
        }
        Ok(registry)
    }

    /// The registered service and instance a request names, and the worker it opens (the
    /// instance's first when it names none). Names that could not have been registered are
    /// simply not found.
    pub(super) async fn resolve_worker(
        &self,
        account_id: u64,
        cluster: &str,
        service: &str,
        instance: &str,
        worker: Option<&str>,
    ) -> Result<(EasService, EasInstance, String), CoreError> {
        let service = if rules::is_eas_name(cluster) && rules::is_eas_name(service) {
            self.store.eas_service(account_id, cluster, service).await?
        } else {
            None
        }
        .ok_or(CoreError::EasServiceNotFound)?;
        let instance = if rules::is_eas_name(instance) {
            self.store
                .eas_instance(EasInstanceName::new(
                    account_id,
                    cluster,
                    &service.name,
                    instance,
                ))
                .await?
        } else {
            None
        }
        .ok_or(CoreError::EasInstanceNotFound)?;
        let worker = match worker {
            Some(worker) if instance.has_worker(worker) => worker.to_owned(),
            Some(_) => return Err(CoreError::EasWorkerNotFound),
            None => instance
                .workers
                .first()
                .cloned()
                .ok_or(CoreError::EasWorkerNotFound)?,
        };
        Ok((service, instance, worker))
    }
}
