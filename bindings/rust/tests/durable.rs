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
