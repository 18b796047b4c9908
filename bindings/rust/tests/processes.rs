// Across processes: what one process saved, the next reads; a process
// killed with SIGKILL in the middle of its saves loses none it had been
// told were saved; and the file is shared at once with the hotstate tool
// (the C++ library).
//
// The child processes are this test program again, running the test named
// in HOTSTATE_CHILD (whose body runs only then).
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use hotstate::{StateManager, StateSnapshot};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hotstate-rust-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn child(test: &str, dir: &std::path::Path) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env("HOTSTATE_CHILD", test)
        .env("HOTSTATE_CHILD_DIR", dir);
    command
}

fn as_child(test: &str) -> Option<std::path::PathBuf> {
    if std::env::var("HOTSTATE_CHILD").ok().as_deref() == Some(test) {
        std::env::var_os("HOTSTATE_CHILD_DIR").map(std::path::PathBuf::from)
    } else {
        None
    }
}

#[tokio::test]
async fn child_saves_three() {
    if let Some(dir) = as_child("child_saves_three") {
        let manager = StateManager::new().with_persistence(&dir);
        for version in 1..=3 {
            manager.save_snapshot(StateSnapshot::new("p", "1.0.0").with_data("version", &version)).await.unwrap();
        }
    }
}

#[tokio::test]
async fn what_one_process_saved_the_next_reads_history_and_rollback_included() {
    let dir = temp_dir("processes");
    assert!(child("child_saves_three", &dir).status().unwrap().success());
    let manager = StateManager::new().with_persistence(&dir);
    assert_eq!(manager.get_history("p").await.len(), 2);
    assert_eq!(manager.rollback("p").await.unwrap().get::<i32>("version"), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn child_saves_until_killed() {
    if let Some(dir) = as_child("child_saves_until_killed") {
        let manager = StateManager::new().with_persistence(&dir);
        for version in 1.. {
            manager.save_snapshot(StateSnapshot::new("p", "1.0.0").with_data("version", &version)).await.unwrap();
            println!("saved {}", version);  // acknowledged: save_snapshot returned
        }
    }
}

#[tokio::test]
async fn a_process_killed_mid_save_loses_no_acknowledged_save() {
    let dir = temp_dir("sigkill");
    let mut saver = child("child_saves_until_killed", &dir).stdout(Stdio::piped()).spawn().unwrap();
    let mut acknowledged = 0;
    {
        let lines = BufReader::new(saver.stdout.as_mut().unwrap()).lines();
        for line in lines {
            let line = line.unwrap();
            if let Some(version) = line.strip_prefix("saved ") {
                acknowledged = version.parse::<i32>().unwrap();
                if acknowledged >= 40 {
                    break;
                }
            }
        }
    }
    saver.kill().unwrap();  // SIGKILL, in the middle of its next save
    saver.wait().unwrap();
    let manager = StateManager::new().with_persistence(&dir);
    let current = manager.load_snapshot("p").await.unwrap().get::<i32>("version").unwrap();
    assert!(current >= acknowledged, "acknowledged {} but found {}", acknowledged, current);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_file_is_shared_with_the_hotstate_tool_at_once() {
    let tool = match std::env::var("HOTSTATE_TOOL") {
        Ok(tool) => tool,
        Err(_) => {
            eprintln!("HOTSTATE_TOOL (the hotstate tool) is not set: nothing to share the file with");
            return;
        }
    };
    let dir = temp_dir("tool");
    let manager = StateManager::new().with_persistence(&dir);
    for version in 1..=2 {
        manager.save_snapshot(StateSnapshot::new("p", "1.0.0").with_data("version", &version)).await.unwrap();
    }
    assert_eq!(manager.load_snapshot("p").await.unwrap().get::<i32>("version"), Some(2));  // cached now
    let db = dir.join("hotstate.db");
    let listed = Command::new(&tool).args(["--db", db.to_str().unwrap(), "--json", "plugins"]).output().unwrap();
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains("\"plugin_id\":\"p\""));
    let rolled = Command::new(&tool).args(["--db", db.to_str().unwrap(), "rollback", "p"]).output().unwrap();
    assert!(rolled.status.success(), "{}", String::from_utf8_lossy(&rolled.stderr));
    // The tool's commit is seen by this process's next load, cache or not.
    assert_eq!(manager.load_snapshot("p").await.unwrap().get::<i32>("version"), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}
