//! The RPC products this dialect serves, with the names each is known by on the wire and in
//! rate limits, audit records and troubleshooting links.

/// The RPC products this dialect serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    /// RAM identity (IMS), 2019-08-15.
    Ims,
    /// Server Migration Center, 2019-06-01.
    Smc,
    /// Resource Access Management, 2015-05-01 (its policy actions).
    Ram,
}

impl Product {
    /// The product's name in rate-limit names, audit records and last-use records.
    pub fn name(self) -> &'static str {
        match self {
            Product::Ims => "ims",
            Product::Smc => "smc",
            Product::Ram => "ram",
        }
    }

    /// The host the real service answers on, echoed as `HostId`.
    pub fn host(self) -> &'static str {
        match self {
            Product::Ims => "ims.aliyuncs.com",
            Product::Smc => "smc.aliyuncs.com",
            Product::Ram => "ram.aliyuncs.com",
        }
    }

    /// The product code used in the `Recommend` troubleshooting link.
    pub fn troubleshoot_name(self) -> &'static str {
        match self {
            Product::Ims => "Ims",
            Product::Smc => "smc",
            Product::Ram => "Ram",
        }
    }
}
