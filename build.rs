// Embeds migrations/ into the binary as (file name, SQL) pairs, which `store::migrations()`
// turns into sqlx migrations. This replaces `sqlx::migrate!`, whose proc-macro crate built a
// second, host copy of sqlx, rustls, ring and the bundled SQLite: minutes of a first start.
use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("migrations");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("migrations/ is readable")
        .map(|entry| entry.expect("migrations/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    let mut out = String::from("&[\n");
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name");
        // store::migrator() reads the version before the first `_`, as sqlx does.
        let version = name.split_once('_').map(|(version, _)| version);
        assert!(
            version.is_some_and(|v| v.parse::<i64>().is_ok()),
            "migrations/{name}: the name must be <number>_<description>.sql"
        );
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("]\n");
    let target = Path::new(&env::var("OUT_DIR").expect("set by cargo")).join("migrations.rs");
    fs::write(target, out).expect("OUT_DIR is writable");
}
