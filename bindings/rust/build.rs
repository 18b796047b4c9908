// Links libhotstate.so, the C API (include/hotstate/hotstate.h). Where from:
//   HOTSTATE_LIB_DIR   a directory holding libhotstate.so (a build tree, or
//                      an install's lib directory): used as it is, and
//                      recorded as the run path of what links it;
//   otherwise          pkg-config's hotstate.pc (installed with the library;
//                      PKG_CONFIG_PATH finds one elsewhere).
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=HOTSTATE_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if let Ok(dir) = env::var("HOTSTATE_LIB_DIR") {
        println!("cargo:rustc-link-search=native={}", dir);
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
    } else {
        let output = Command::new("pkg-config")
            .args(["--libs-only-L", "hotstate"])
            .output()
            .expect("hotstate: pkg-config is needed to find libhotstate (or set HOTSTATE_LIB_DIR)");
        if !output.status.success() {
            panic!(
                "hotstate: pkg-config does not know hotstate: {} (install libhotstate, set PKG_CONFIG_PATH, or set HOTSTATE_LIB_DIR)",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for flag in String::from_utf8_lossy(&output.stdout).split_whitespace() {
            if let Some(dir) = flag.strip_prefix("-L") {
                println!("cargo:rustc-link-search=native={}", dir);
                println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
            }
        }
    }
    println!("cargo:rustc-link-lib=dylib=hotstate");
}
