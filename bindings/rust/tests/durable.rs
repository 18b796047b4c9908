// What the crate adds to the seed: history that survives the process, and
// many tasks at once on tokio's multi-threaded runtime without deadlock.
use hotstate::{StateManager, StateSnapshot};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hotstate-rust-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn history_and_rollback_survive_a_new_manager_on_the_same_directory() {
    let dir = temp_dir("durable");
    {
        let manager = StateManager::new().with_persistence(&dir);
        for version in 1..=3 {
            manager
                .save_snapshot(StateSnapshot::new("p", "1.0.0").with_data("version", &version))
                .await
                .unwrap();
        }
    }
    let manager = StateManager::new().with_persistence(&dir);
    assert_eq!(manager.load_snapshot("p").await.unwrap().get::<i32>("version"), Some(3));
    assert_eq!(manager.get_history("p").await.len(), 2);
    assert_eq!(manager.rollback("p").await.unwrap().get::<i32>("version"), Some(2));
    assert_eq!(manager.plugin_ids().await, vec!["p".to_string()]);
    drop(manager);
    let reopened = StateManager::new().with_persistence(&dir);
    assert_eq!(reopened.get_latest("p").await.unwrap().get::<i32>("version"), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_saving_and_rolling_back_at_once_never_deadlock() {
    let dir = temp_dir("tasks");
    let manager = std::sync::Arc::new(StateManager::new().with_persistence(&dir).with_max_history(5));
    let mut tasks = Vec::new();
    for task in 0..16 {
        let manager = std::sync::Arc::clone(&manager);
        tasks.push(tokio::spawn(async move {
            let id = format!("plugin-{}", task % 4);
            for round in 0..20 {
                manager
                    .save_snapshot(StateSnapshot::new(&id, "1.0.0").with_data("round", &round))
                    .await
                    .unwrap();
                if round % 3 == 0 {
                    let _ = manager.rollback(&id).await;
                }
                let _ = manager.load_snapshot(&id).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(manager.plugin_ids().await.len(), 4);
    for id in manager.plugin_ids().await {
        assert!(manager.get_history(&id).await.len() <= 5);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_seeds_persisted_files_are_imported_on_first_use_all_or_nothing() {
    let dir = temp_dir("import");
    std::fs::create_dir_all(&dir).unwrap();
    // As the seed wrote them: serde_json::to_string_pretty, one file per plugin.
    for (id, count) in [("alpha", 1), ("beta", 2)] {
        let snapshot = StateSnapshot::new(id, "1.0.0").with_data("count", &count);
        std::fs::write(dir.join(format!("{}.json", id)), serde_json::to_string_pretty(&snapshot).unwrap()).unwrap();
    }
    std::fs::write(dir.join("broken.json"), "{\"plugin_id\": 1}").unwrap();
    {
        let manager = StateManager::new().with_persistence(&dir);
        assert!(manager.plugin_ids().await.is_empty());  // refused: nothing imported
    }
    assert!(!dir.join("hotstate.db").exists());
    std::fs::remove_file(dir.join("broken.json")).unwrap();
    let manager = StateManager::new().with_persistence(&dir);
    assert_eq!(manager.plugin_ids().await, vec!["alpha".to_string(), "beta".to_string()]);
    assert_eq!(manager.load_snapshot("beta").await.unwrap().get::<i32>("count"), Some(2));
    drop(manager);
    // Once only: a second manager finds the database and imports nothing again.
    std::fs::write(dir.join("gamma.json"), serde_json::to_string(&StateSnapshot::new("gamma", "1.0.0")).unwrap()).unwrap();
    let again = StateManager::new().with_persistence(&dir);
    assert_eq!(again.plugin_ids().await.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
