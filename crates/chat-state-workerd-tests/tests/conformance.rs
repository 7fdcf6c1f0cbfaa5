//! The whole conformance suite against ChatStateDO in the Workers runtime.
#![cfg(feature = "workerd")]

chat_state_conformance::conformance_tests!(chat_state_workerd_tests::Workerd::shared());
