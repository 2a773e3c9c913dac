//! End-to-end tests of the `keyplane` binary: real server processes on 127.0.0.1:0 in
//! temporary data directories, driven over HTTP with requests signed as the SDKs sign them.

mod server {
    pub mod aliyun;
    pub mod authorization;
    pub mod cluster;
    pub mod crash;
    pub mod dialect;
    pub mod eas;
    pub mod eas_end_to_end;
    pub mod gateway_revocation;
    pub mod hostile_audit;
    pub mod hostile_authorization;
    pub mod hostile_caches;
    pub mod hostile_front;
    pub mod hostile_gateway;
    pub mod hostile_parsing;
    pub mod hostile_secrets;
    pub mod lifecycle;
    pub mod quotas;
    pub mod robustness;
    pub mod smc;
    pub mod support;
    pub mod tls;
    pub mod trusted_proxy;
    pub mod workbench;
}
