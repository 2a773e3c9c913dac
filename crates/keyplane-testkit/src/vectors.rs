//! The account and root keys every captured SDK vector in `vectors/` was signed for, so that
//! an in-process authority seeded with them authenticates the vectors at their own time; and
//! the captured requests' header pairs.

use keyplane_core::model::KeyFamily;

/// A root key a set of captured vectors was signed with, and the account it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct VectorRoot {
    pub account_id: u64,
    pub key_id: &'static str,
    pub secret: &'static str,
    pub family: KeyFamily,
}

/// The Tencent Cloud vectors' root key.
pub const TENCENT: VectorRoot = VectorRoot {
    account_id: 100_000_000_001,
    key_id: "AKIDFakeSecretId0000000000000000EXMP",
    secret: "FakeSecretKey000000000000000EXMP",
    family: KeyFamily::Tencent,
};

/// The Alibaba Cloud vectors' root key (RPC: IMS and SMC; ROA: EAS).
pub const ALIYUN: VectorRoot = VectorRoot {
    account_id: 123_456_789_012,
    key_id: "LTAI5tFakeAccessKeyId0001",
    secret: "FakeAccessKeySecret00000000001",
    family: KeyFamily::Aliyun,
};

/// The sub-user (`alice`) some Alibaba vectors name.
pub const ALIYUN_USER_UIN: u64 = 123_456_789_101;

/// The directory of the captured vectors.
pub fn directory() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

/// A captured request's `headers` (a JSON array of `[name, value]` pairs) as owned pairs.
pub fn header_pairs(headers: &serde_json::Value) -> Vec<(String, String)> {
    headers
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
