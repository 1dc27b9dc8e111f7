//! openraft's own storage test suite, run on the sled-backed log and state machine.

use gdc_coordinator::store::{self, LogStore, StateMachine};
use gdc_coordinator::{NodeId, TypeConfig};
use openraft::StorageError;
use openraft::testing::{StoreBuilder, Suite};

struct SledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for SledBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, sm) = store::open(&dir.path().join("raft")).expect("store");
        Ok((dir, log, sm))
    }
}

/// Every case of the suite (it makes its own runtimes, so this is a plain test).
#[test]
fn sled_store_passes_openraft_storage_suite() {
    if let Err(e) = Suite::test_all(SledBuilder) {
        panic!("storage suite: {e}");
    }
}
