// The seed's own #[cfg(test)] module (../shared/seed/state.rs), copied
// unchanged except for its `use` line (`use super::*;` -> `use hotstate::*;`):
// code written against the seed works against the crate.
#[cfg(test)]
mod tests {
    use hotstate::*;

    #[test]
    fn test_plugin_state_display() {
        assert_eq!(PluginState::Unloaded.to_string(), "Unloaded");
        assert_eq!(PluginState::Running.to_string(), "Running");
        assert_eq!(
            PluginState::Failed("test".to_string()).to_string(),
            "Failed: test"
        );
    }

    #[test]
    fn test_state_snapshot() {
        let snapshot = StateSnapshot::new("test-plugin", "1.0.0")
            .with_data("counter", &42)
            .with_data("name", &"test")
            .with_metadata("author", "developer");

        assert_eq!(snapshot.plugin_id, "test-plugin");
        assert_eq!(snapshot.plugin_version, "1.0.0");
        assert_eq!(snapshot.get::<i32>("counter"), Some(42));
        assert_eq!(snapshot.get::<String>("name"), Some("test".to_string()));
        assert_eq!(snapshot.get_metadata("author"), Some("developer"));
    }

    #[test]
    fn test_snapshot_compatibility() {
        let snapshot = StateSnapshot::new("test", "1.0.0");

        assert!(snapshot.is_compatible("1.0.0"));
        assert!(snapshot.is_compatible("1.1.0"));
        assert!(snapshot.is_compatible("1.2.3"));
        assert!(!snapshot.is_compatible("2.0.0"));
    }

    #[test]
    fn test_snapshot_serialization() {
        let snapshot = StateSnapshot::new("test", "1.0.0").with_data("value", &123);

        let bytes = snapshot.to_bytes().unwrap();
        let restored = StateSnapshot::from_bytes(&bytes).unwrap();

        assert_eq!(restored.plugin_id, snapshot.plugin_id);
        assert_eq!(restored.get::<i32>("value"), Some(123));
    }

    #[tokio::test]
    async fn test_state_manager() {
        let manager = StateManager::new();

        let snapshot = StateSnapshot::new("plugin-1", "1.0.0").with_data("state", &"active");

        manager.save_snapshot(snapshot.clone()).await.unwrap();

        let loaded = manager.load_snapshot("plugin-1").await.unwrap();
        assert_eq!(loaded.plugin_id, "plugin-1");
        assert_eq!(loaded.get::<String>("state"), Some("active".to_string()));
    }

    #[tokio::test]
    async fn test_state_manager_rollback() {
        let manager = StateManager::new();

        // Save first snapshot
        let snapshot1 = StateSnapshot::new("plugin-1", "1.0.0").with_data("version", &1);
        manager.save_snapshot(snapshot1).await.unwrap();

        // Save second snapshot (moves first to history)
        let snapshot2 = StateSnapshot::new("plugin-1", "1.0.0").with_data("version", &2);
        manager.save_snapshot(snapshot2).await.unwrap();

        // Current should be version 2
        let current = manager.load_snapshot("plugin-1").await.unwrap();
        assert_eq!(current.get::<i32>("version"), Some(2));

        // Rollback to version 1
        let rolled_back = manager.rollback("plugin-1").await.unwrap();
        assert_eq!(rolled_back.get::<i32>("version"), Some(1));

        // Current should now be version 1
        let current = manager.load_snapshot("plugin-1").await.unwrap();
        assert_eq!(current.get::<i32>("version"), Some(1));
    }
}