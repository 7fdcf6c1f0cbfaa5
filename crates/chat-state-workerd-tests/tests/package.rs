//! The whole conformance suite through the npm package's client
//! (`createCloudflareState`) against ChatStateDO in the Workers runtime.
#![cfg(feature = "workerd")]

chat_state_conformance::conformance_tests!(chat_state_workerd_tests::PackageHarness::shared());
