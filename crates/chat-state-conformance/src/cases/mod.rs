//! One async function per behaviour of the contract.
//!
//! Each case takes a [`Harness`], starts from fresh storage, and returns
//! `Err` describing the first broken expectation. Cases never sleep: time
//! moves only through [`Harness::advance`].

use crate::{Harness, TestResult};

mod cache;
mod lifecycle;
mod lists;
mod locks;
mod queues;
mod values;

/// Fails the case with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!("line {}: {}", line!(), format!($($arg)+)).into());
        }
    };
}

/// Fails the case unless both sides are equal, showing both.
macro_rules! ensure_eq {
    ($left:expr, $right:expr $(,)?) => {{
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err(format!(
                        "line {}: {} was {:?}, expected {:?}",
                        line!(),
                        stringify!($left),
                        left,
                        right
                    )
                    .into());
                }
            }
        }
    }};
}

pub(crate) use {ensure, ensure_eq};

/// A fresh adapter, connected.
pub(crate) async fn ready<H: Harness>(h: &H) -> Result<H::Adapter, chat_state::Error> {
    use chat_state::StateAdapter;
    let adapter = h.fresh().await;
    adapter.connect().await?;
    Ok(adapter)
}

// `$d` is a literal `$`, passed in so that the generated macro can declare
// its own metavariables.
macro_rules! suite {
    ($d:tt; $($module:ident :: $name:ident),* $(,)?) => {
        $(pub use $module::$name;)*

        /// The name of every case, in the order [`run_all`] runs them.
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];

        /// Runs every case in turn and returns each name with its outcome.
        pub async fn run_all<H: Harness>(h: &H) -> Vec<(&'static str, TestResult)> {
            let mut out = Vec::new();
            $(out.push((stringify!($name), $module::$name(h).await));)*
            out
        }

        /// Expands to one `#[tokio::test]` per case, each building its
        /// harness with the given expression. The calling crate needs
        /// `tokio` with the `macros` and `rt-multi-thread` features.
        #[macro_export]
        macro_rules! conformance_tests {
            ($d harness:expr) => {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() -> $d crate::TestResult {
                        $d crate::cases::$name(&$d harness).await
                    }
                )*
            };
        }
    };
}

suite! {
    $;
    lifecycle::data_methods_fail_before_connect,
    lifecycle::data_methods_fail_after_disconnect,
    lifecycle::reconnect_keeps_every_store,
    lifecycle::connect_and_disconnect_are_idempotent,
    lifecycle::concurrent_connects_share_one_attempt,
    lifecycle::subscriptions_are_a_set,
    lifecycle::subscriptions_never_expire,
    locks::acquire_returns_the_key_token_and_expiry,
    locks::acquire_while_held_returns_none_and_changes_nothing,
    locks::lease_ends_exactly_at_expiry,
    locks::non_positive_ttl_gives_a_lease_that_is_already_over,
    locks::tokens_are_unique_and_unguessable,
    locks::release_needs_the_matching_token,
    locks::extend_resets_a_live_lease_from_now,
    locks::extend_never_revives_an_expired_lease,
    locks::extend_with_another_token_or_no_lock_is_false,
    locks::extend_with_non_positive_ttl_frees_the_lock,
    locks::force_release_ignores_the_token,
    locks::huge_ttl_saturates_to_the_far_future,
    locks::concurrent_acquirers_have_exactly_one_winner,
    cache::get_of_a_missing_key_is_none,
    cache::values_round_trip_structurally,
    cache::set_ttl_follows_the_ttl_rules,
    cache::set_without_ttl_makes_a_key_persistent,
    cache::set_with_negative_ttl_removes_the_old_value,
    cache::set_if_not_exists_writes_only_over_nothing,
    cache::set_if_not_exists_with_negative_ttl_stays_absent,
    cache::stored_null_reads_as_none_but_is_present,
    cache::delete_removes_only_the_cache_entry,
    cache::concurrent_set_if_not_exists_has_exactly_one_winner,
    lists::lists_keep_append_order,
    lists::max_length_keeps_the_newest,
    lists::non_positive_max_length_is_unbounded,
    lists::list_ttl_covers_the_whole_list,
    lists::append_without_ttl_keeps_the_list_expiry,
    lists::an_expired_list_starts_fresh,
    lists::append_with_negative_ttl_ends_the_list,
    queues::queue_is_fifo_and_round_trips_entries,
    queues::enqueue_returns_the_live_depth,
    queues::dead_entries_are_never_returned_or_counted,
    queues::max_size_drops_the_oldest_live_entries,
    queues::non_positive_max_size_is_unbounded,
    queues::concurrent_dequeues_never_share_an_entry,
    values::stores_are_separate_namespaces,
    values::keys_are_stored_verbatim,
    values::values_up_to_the_limit_are_accepted,
    values::oversized_values_and_keys_are_refused_whole,
    values::oversized_bounds_are_refused,
    values::out_of_range_queue_times_are_refused,
    values::corrupt_cache_value_reads_as_raw_text,
    values::corrupt_list_element_reads_as_raw_text,
    values::corrupt_queue_entry_fails_once_then_proceeds,
    values::purge_removes_only_what_is_dead,
}
