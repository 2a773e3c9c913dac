//! Keyplane's composition root: configuration, the installation on disk, the audit commands, the production
//! credential factory, the HTTP front, the EAS terminal gateway and the load generator. The `keyplane` binary
//! (`main.rs`) is a thin command-line layer over these modules.

pub mod audit_command;
pub mod bench;
pub mod config;
pub mod eas_command;
pub mod factory;
pub mod gateway;
pub mod http;
pub mod installation;
pub mod operator_message;
pub mod secrets;
