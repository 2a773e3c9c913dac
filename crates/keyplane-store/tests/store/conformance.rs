//! The backend-independent conformance suite: every case is an `async fn(Arc<dyn Store>)` that
//! receives a fresh, empty store and asserts exact results through the `Store` trait only.
//! `conformance_tests!(factory)` turns each case into one named `#[tokio::test]` for a backend,
//! so a new backend plugs in with one factory and one macro call.

#[path = "conformance/access_keys.rs"]
pub mod access_keys;
#[path = "conformance/accounts.rs"]
pub mod accounts;
#[path = "conformance/activation_codes.rs"]
pub mod activation_codes;
#[path = "conformance/api_keys.rs"]
pub mod api_keys;
#[path = "conformance/audit.rs"]
pub mod audit;
#[path = "conformance/audit_prune.rs"]
pub mod audit_prune;
#[path = "conformance/concurrency.rs"]
pub mod concurrency;
#[path = "conformance/eas.rs"]
pub mod eas;
#[path = "conformance/iam.rs"]
pub mod iam;
#[path = "conformance/key_usage.rs"]
pub mod key_usage;
#[path = "conformance/nonces.rs"]
pub mod nonces;
#[path = "conformance/users.rs"]
pub mod users;

/// Expands, in the calling module, to one `#[tokio::test]` per conformance case, named after
/// the case. `$factory` is an `async fn() -> Option<crate::support::TestStore>` returning a
/// fresh, empty store per call, or `None` when the backend is unavailable (the factory says
/// why; the case then returns without asserting anything).
///
/// Adding a case: write the `pub async fn` in its module and list it here.
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::conformance::conformance_tests!(@cases $factory;
            accounts::initialize_creates_account_root_user_and_root_keys,
            accounts::initialize_twice_is_refused_and_changes_nothing,
            accounts::primary_account_is_none_before_initialize_and_some_after,
            accounts::create_user_round_trips_and_is_scoped_to_its_account,
            accounts::create_user_with_a_taken_name_is_refused,
            accounts::create_user_with_a_taken_uin_is_refused,
            accounts::initialize_with_colliding_root_keys_stores_nothing,
            accounts::the_first_master_key_check_value_is_kept,
            nonces::a_nonce_is_accepted_once_per_key_until_it_expires,
            nonces::concurrent_uses_of_one_nonce_accept_exactly_one,
            access_keys::create_access_key_for_an_unknown_owner_is_refused,
            access_keys::access_key_quota_counts_inactive_keys_and_is_per_family_and_user,
            access_keys::create_access_key_with_a_taken_id_is_refused,
            access_keys::access_key_fields_round_trip_exactly,
            access_keys::set_access_key_status_refuses_unknown_foreign_and_other_owners_keys,
            access_keys::set_access_key_status_updates_status_and_updated_at,
            access_keys::delete_access_key_refuses_unknown_foreign_and_other_owners_keys,
            access_keys::delete_access_key_removes_the_key_and_frees_its_quota_slot,
            key_usage::key_usage_keeps_the_latest_use,
            key_usage::key_usage_for_unknown_keys_is_ignored,
            key_usage::delete_access_key_removes_its_usage,
            api_keys::api_key_round_trips_and_is_scoped_to_its_account,
            api_keys::list_api_keys_returns_oldest_first,
            api_keys::update_api_key_set_enabled_changes_only_enabled_and_updated_at,
            api_keys::update_api_key_replace_secret_changes_only_the_secret_and_updated_at,
            api_keys::api_key_changes_refuse_unknown_and_foreign_keys,
            api_keys::delete_api_key_removes_it_and_frees_its_slot,
            api_keys::create_api_key_with_an_existing_id_is_refused,
            concurrency::concurrent_access_key_creations_respect_the_quota,
            concurrency::concurrent_api_key_creations_respect_the_limit,
            concurrency::concurrent_creations_of_the_same_api_key_id_create_one,
            concurrency::concurrent_initializations_create_one_account,
            concurrency::concurrent_reads_during_writes_succeed,
            concurrency::concurrent_creations_with_mixed_outcomes_each_get_their_own_answer,
            concurrency::concurrent_creations_and_deletions_each_get_their_own_answer,
            audit::every_successful_mutation_writes_exactly_one_audit_event,
            audit::refused_access_key_over_quota_writes_no_audit_event,
            audit::every_refused_mutation_writes_no_audit_event,
            audit::append_audit_events_appends_in_order,
            audit::audit_records_paginates_by_sequence,
            audit_prune::prune_removes_only_records_older_than_the_cutoff_and_records_itself,
            audit_prune::prune_with_nothing_older_removes_nothing_and_still_records_itself,
            activation_codes::activation_code_round_trips_and_is_scoped_to_its_account,
            activation_codes::disable_and_delete_refuse_unknown_and_foreign_codes,
            activation_codes::redemption_consumes_one_use_per_fingerprint,
            activation_codes::refused_redemptions_consume_nothing,
            activation_codes::concurrent_redemptions_register_exactly_count_servers,
            activation_codes::user_by_name_finds_users_within_their_account,
            eas::eas_services_round_trip_and_are_scoped_to_their_account,
            eas::eas_instances_belong_to_a_registered_service,
            eas::deleting_an_eas_service_removes_its_instances,
            eas::instance_tokens_round_trip_and_burn_once,
            eas::refused_token_burns_change_nothing,
            eas::colliding_instance_tokens_store_nothing,
            eas::concurrent_burns_of_one_token_succeed_once,
            eas::expired_instance_tokens_are_forgotten,
            users::list_users_returns_oldest_first_with_their_profiles,
            users::delete_user_refusals_change_nothing,
            users::delete_user_removes_its_keys_of_both_families_and_its_attachments,
            iam::create_custom_policy_refusals_in_their_order,
            iam::custom_policies_are_found_by_name_and_id_within_their_account,
            iam::attach_and_detach_refusals_change_nothing,
            iam::concurrent_attachments_respect_the_limit,
            iam::user_policies_are_in_attach_order_with_their_custom_policies,
            audit::audit_events_keep_their_authorization,
            iam::delete_custom_policy_refuses_while_attached_unless_told_to_detach,
        );
    };
    (@cases $factory:path; $($module:ident :: $case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(test_store) = $factory().await else {
                    return;
                };
                $crate::conformance::$module::$case(test_store.store()).await;
            }
        )+
    };
}

pub(crate) use conformance_tests;
