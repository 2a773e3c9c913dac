//! The SMC activation-code actions: `CreateAccessToken`, `ListAccessTokens` (filtered, paged),
//! `DisableAccessToken` and `DeleteAccessToken`.

use keyplane_core::authority::{
    ActivationCodeChange, ActivationCodeFilter, NewActivationCodeRequest,
};
use keyplane_core::model::{ActivationCode, ActivationCodeStatus};
use keyplane_core::RequestContext;
use serde_json::{json, Value};

use crate::actions::{core, done, fields, Answer, Call};
use crate::envelope::Params;
use crate::errors::AliyunError;
use crate::time_format::iso8601;

/// `PageSize` bounds and default of `ListAccessTokens`.
const DEFAULT_PAGE_SIZE: usize = 10;
const MAX_PAGE_SIZE: usize = 50;

/// An optional decimal parameter; `InvalidParameter` naming it when not a plain number.
fn number(params: &Params, name: &str, range: &str) -> Result<Option<u32>, AliyunError> {
    let Some(text) = params.non_empty(name) else {
        return Ok(None);
    };
    let parsed = (text.len() <= 9 && text.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| text.parse::<u32>().ok())
        .flatten();
    parsed.map(Some).ok_or_else(|| {
        AliyunError::invalid_parameter(name, &format!("it must be an integer {range}."))
    })
}

fn token_summary(code: &ActivationCode, context: &RequestContext) -> Value {
    json!({
        "AccessTokenId": code.id,
        "Name": code.name,
        "Description": code.description,
        "Count": code.count.to_string(),
        "RegisteredCount": code.registered_count.to_string(),
        "TimeToLiveInDays": code.time_to_live_days.to_string(),
        "CreationTime": iso8601(code.created_at),
        "Status": code.status(context.now).as_str(),
    })
}

pub(super) async fn create_access_token(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let request = NewActivationCodeRequest {
        name: params.non_empty("Name").map(str::to_owned),
        description: params.non_empty("Description").map(str::to_owned),
        count: number(params, "Count", "from 1 to 1000")?,
        time_to_live_days: number(params, "TimeToLiveInDays", "from 1 to 90")?,
    };
    let issued = authority
        .create_activation_code(context, request)
        .await
        .map_err(core)?;
    Ok(fields(json!({
        "AccessTokenId": issued.activation_code.id,
        "AccessTokenCode": issued.code.expose(),
    })))
}

pub(super) async fn list_access_tokens(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let status = match params.non_empty("Status") {
        None => None,
        Some(text) => Some(ActivationCodeStatus::parse(text).ok_or_else(|| {
            AliyunError::invalid_parameter(
                "Status",
                "it must be activated, unactivated or expired.",
            )
        })?),
    };
    let filter = ActivationCodeFilter {
        ids: params.list("AccessTokenId")?,
        name: params.non_empty("Name").map(str::to_owned),
        status,
    };
    let page_number = number(params, "PageNumber", "of at least 1")?.unwrap_or(1);
    if page_number == 0 {
        return Err(AliyunError::invalid_parameter(
            "PageNumber",
            "it must be an integer of at least 1.",
        ));
    }
    let page_size =
        number(params, "PageSize", "from 1 to 50")?.map_or(DEFAULT_PAGE_SIZE, |size| size as usize);
    if page_size == 0 || page_size > MAX_PAGE_SIZE {
        return Err(AliyunError::invalid_parameter(
            "PageSize",
            "it must be an integer from 1 to 50.",
        ));
    }
    let offset = (page_number as usize - 1).saturating_mul(page_size);
    let (total, page) = authority
        .list_activation_codes(context, &filter, offset, page_size)
        .await
        .map_err(core)?;
    let tokens: Vec<Value> = page
        .iter()
        .map(|code| token_summary(code, context))
        .collect();
    Ok(fields(json!({
        "AccessTokens": { "AccessToken": tokens },
        "TotalCount": total,
        "PageNumber": page_number,
        "PageSize": page_size,
    })))
}

/// `DisableAccessToken`, or with `DELETE` `DeleteAccessToken`: the activation code
/// `AccessTokenId` names.
pub(super) async fn change_access_token<const DELETE: bool>(
    call: Call<'_>,
) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let code_id = params.required("AccessTokenId")?;
    let change = if DELETE {
        ActivationCodeChange::Delete
    } else {
        ActivationCodeChange::Disable
    };
    done(
        authority
            .change_activation_code(context, code_id, change)
            .await,
    )
}
