//! Tencent business parameters: `Params::from_flat` over the decoded pairs of a query or form
//! body (`Tags.0.Key=env`), and `Params::from_json` over a JSON body, then every typed getter.
//! They must never panic, and must not grow the heap much more than the input's size.

#![no_main]

use keyplane_fuzz::{assert_bounded, decode_pairs};
use keyplane_tencent::params::{field_string, fields_allow_only, Params};
use libfuzzer_sys::fuzz_target;

/// Names the getters are asked for: the first names of the input and some the actions use.
const NAMES: &[&str] = &[
    "Name",
    "Tags",
    "Uin",
    "TargetUin",
    "Page",
    "Rp",
    "AccessKeyIds",
];

fn exercise(params: &Params, names: &[String]) {
    for name in NAMES
        .iter()
        .copied()
        .chain(names.iter().map(String::as_str))
    {
        let _ = params.optional_string(name);
        let _ = params.required_string(name);
        let _ = params.optional_unsigned(name);
        let _ = params.optional_unsigned_list(name);
        let _ = params.optional_string_list(name);
    }
    let _ = params.allow_only(NAMES);
    let _ = params.optional_object_list("Tags", |path, fields| {
        fields_allow_only(path, fields, &["Key", "Value"])?;
        Ok((
            field_string(path, fields, "Key")?,
            field_string(path, fields, "Value")?,
        ))
    });
}

fuzz_target!(|data: &[u8]| {
    let pairs = decode_pairs(data);
    let names: Vec<String> = pairs.iter().take(4).map(|(name, _)| name.clone()).collect();
    if let Ok(params) = assert_bounded("tencent flat parameters", data.len(), || {
        Params::from_flat(&pairs)
    }) {
        exercise(&params, &names);
    }
    if let Ok(params) = assert_bounded("tencent JSON parameters", data.len(), || {
        Params::from_json(data)
    }) {
        exercise(&params, &names);
    }
});
