// Embeds migrations/ into the binary as (file name, SQL) pairs, which `store::migrator()` turns
// into sqlx migrations. This replaces `sqlx::migrate!`, whose proc-macro crate built a second,
// host copy of sqlx, rustls, ring and the bundled SQLite: minutes of a first start.
use std::error::Error;
use std::path::Path;
use std::{env, fs};

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=migrations");
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR")?).join("migrations");
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "sql") {
            files.push(path);
        }
    }
    files.sort();
    let mut out = String::from("&[\n");
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: not a UTF-8 file name", path.display()))?;
        // store::migrator() reads the version before the first `_`, as sqlx does.
        let version = name.split_once('_').map(|(version, _)| version);
        if version.is_none_or(|v| v.parse::<i64>().is_err()) {
            return Err(
                format!("migrations/{name}: the name must be <number>_<description>.sql").into(),
            );
        }
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("]\n");
    fs::write(Path::new(&env::var("OUT_DIR")?).join("migrations.rs"), out)?;
    Ok(())
}
