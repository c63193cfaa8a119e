/// Server-side rendering of the dashboard's nested views runs on the runtime's worker threads;
/// a debug build needs more than tokio's 2 MiB default there (only address space is reserved).
#[cfg(feature = "ssr")]
const WORKER_STACK_BYTES: usize = 16 * 1024 * 1024;

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime.block_on(serve_or_run_command()),
        Err(e) => {
            eprintln!("switchyard: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "ssr")]
async fn serve_or_run_command() -> std::process::ExitCode {
    use std::process::ExitCode;
    use switchyard::server::{shutdown_signal, Application};
    use switchyard::settings::Settings;

    tracing_subscriber::fmt()
        // Colour codes only on a terminal: a log sent to a file or a pipe stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_sessions=warn".into()),
        )
        .init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            async {
                let settings = Settings::from_env()?;
                let app = Application::build(settings).await?;
                app.run_until(shutdown_signal()).await?;
                anyhow::Ok(())
            }
            .await
        }
        ["export"] => switchyard::cli::export().await,
        ["apply", file] => switchyard::cli::apply(std::path::Path::new(file)).await,
        ["rotate-master-key"] => switchyard::cli::rotate_master_key().await,
        other => {
            let help = other.iter().any(|a| *a == "-h" || *a == "--help");
            eprintln!("{}", switchyard::cli::USAGE);
            return if help {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("switchyard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser bundle starts from `hydrate()` in lib.rs; this binary needs the ssr feature.
}
