// The typed API beside the seed's: audit log, reload journal, plugin states,
// stored snapshots, restores, pins, and restore_for with Rust closures.
use hotstate::{Database, PluginState, StateSnapshot};

fn snapshot(version: &str, count: i64) -> StateSnapshot {
    StateSnapshot::new("p", version).with_data("count", &count)
}

#[test]
fn the_audit_log_the_journal_and_plugin_states() {
    let db = Database::open(":memory:").unwrap();
    db.save(&snapshot("1.0.0", 1)).unwrap();
    let ticket = db.begin_reload(&snapshot("1.0.0", 2), "1.1.0").unwrap();
    assert_eq!(db.unfinished_reloads().unwrap().len(), 1);
    assert_eq!(db.unfinished_reloads().unwrap()[0].last_good.get::<i64>("count"), Some(2));
    db.record_event("StateRestored", "p", &serde_json::json!({"reload_id": ticket.id})).unwrap();
    db.finish_reload(ticket.id, Err("it crashed")).unwrap();
    assert!(db.unfinished_reloads().unwrap().is_empty());
    let events = db.audit_events(Some("p"), None, None, 0, false).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["SnapshotSaved", "SnapshotSaved", "ReloadStarted", "StateRestored", "ReloadFailed", "ReloadCompleted"]);
    assert_eq!(events[4].detail["error"], "it crashed");
    let err = db.finish_reload(ticket.id, Ok(())).unwrap_err();
    assert_eq!(err.name, "Conflict");

    assert_eq!(db.plugin_state("p").unwrap(), PluginState::Unloaded);
    db.set_plugin_state("p", &PluginState::Failed("bad config".into())).unwrap();
    assert_eq!(db.plugin_state("p").unwrap().to_string(), "Failed: bad config");
    assert_eq!(db.record_event("NoSuchKind", "p", &serde_json::json!({})).unwrap_err().name, "InvalidArgument");
}

#[test]
fn stored_snapshots_restores_and_pins() {
    let db = Database::open(":memory:").unwrap();
    let first = db.save(&snapshot("1.0.0", 1)).unwrap();
    db.save(&snapshot("1.0.0", 2)).unwrap();
    assert_eq!(db.snapshot("p", first).unwrap().unwrap().get::<i64>("count"), Some(1));
    assert!(db.snapshot("p", 999).unwrap().is_none());
    db.pin("p", first, "good").unwrap();
    let (restored, seq) = db.restore("p", first).unwrap();
    assert_eq!(restored.get::<i64>("count"), Some(1));
    assert!(seq > first);
    assert_eq!(db.history("p").unwrap().len(), 2);  // nothing deleted
    assert_eq!(db.pins(None).unwrap()[0].label, "good");
    assert_eq!(db.pinned("p", "good").unwrap().unwrap().get::<i64>("count"), Some(1));
    assert!(db.unpin("p", "good").unwrap());
    assert!(!db.unpin("p", "good").unwrap());
    assert_eq!(db.restore("p", 999).unwrap_err().name, "NotFound");
}

#[test]
fn restore_for_runs_rust_closures_and_passes_over_one_that_fails() {
    let db = Database::open(":memory:").unwrap();
    db.save(&snapshot("1.0.0", 5)).unwrap();
    db.save(&snapshot("1.1.0", -1)).unwrap();
    db.register_migration("p", 1, 2, |mut s| {
        let count: i64 = s.get("count").ok_or("no count")?;
        if count < 0 {
            return Err("count is negative".to_string());
        }
        s.data.insert("total".to_string(), serde_json::json!(count));
        s.data.remove("count");
        Ok(s)
    })
    .unwrap();
    let migrated = db.restore_for("p", "2.0.0").unwrap().unwrap();
    assert_eq!(migrated.plugin_version, "2.0.0");
    assert_eq!(migrated.get::<i64>("total"), Some(5));
    let skipped = db.audit_events(Some("p"), Some("RestoreSkipped"), None, 0, false).unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].detail["reason"].as_str().unwrap().contains("count is negative"));

    // A migration that panics fails too, without unwinding into C.
    db.register_migration("p", 2, 3, |_| panic!("boom")).unwrap();
    assert!(db.restore_for("p", "3.0.0").unwrap().is_none());
    let panicked = db.audit_events(Some("p"), Some("RestoreSkipped"), None, 1, true).unwrap();
    assert!(panicked[0].detail["reason"].as_str().unwrap().contains("it panicked"));
    assert!(db.register_migration("p", 3, 3, Ok).is_err());
}

#[test]
fn backup_makes_a_copy_that_opens_and_verify_finds_nothing_wrong() {
    let dir = std::env::temp_dir().join(format!("hotstate-rust-backup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = Database::open(dir.join("source.db").to_str().unwrap()).unwrap();
    db.save(&snapshot("1.0.0", 7)).unwrap();
    assert!(db.verify().unwrap().is_empty());
    db.backup(&dir.join("copy.db")).unwrap();
    let copy = Database::open(dir.join("copy.db").to_str().unwrap()).unwrap();
    assert_eq!(copy.load("p").unwrap().unwrap().get::<i64>("count"), Some(7));
    assert!(copy.verify().unwrap().is_empty());
    assert_eq!(db.backup(&dir.join("source.db")).unwrap_err().name, "InvalidArgument");
    let _ = std::fs::remove_dir_all(&dir);
}
