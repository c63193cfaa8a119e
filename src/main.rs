/// Server-side rendering of the dashboard's nested views runs on the runtime's worker threads;
/// a debug build needs more than tokio's 2 MiB default there (only address space is reserved).
#[cfg(feature = "ssr")]
const WORKER_STACK_BYTES: usize = 16 * 1024 * 1024;

/// glibc's malloc and free took 14 % of the proxy's CPU at 2,000 req/s (bench/PROFILE.md).
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

    // Held to the end: dropping it writes out the request lines still queued.
    let _request_log = init_logging();

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

/// Logs to stdout, filtered by `RUST_LOG`. The per-request lines (target
/// `switchyard::requests`) are written by their own thread, so a request's task only queues its
/// line and never waits on the stdout lock or a slow pipe (not lossy: a full queue waits rather
/// than drops); every other line is written in place, so start-up output keeps its order.
#[cfg(feature = "ssr")]
fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    use switchyard::proxy::REQUEST_LOG_TARGET;
    use tracing_subscriber::{filter::filter_fn, fmt, prelude::*, EnvFilter};

    // Colour codes only on a terminal: a log sent to a file or a pipe stays plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (request_writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stdout());
    tracing_subscriber::registry()
        .with(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_sessions=warn".into()),
        )
        .with(
            fmt::layer()
                .with_ansi(ansi)
                .with_filter(filter_fn(|m| m.target() != REQUEST_LOG_TARGET)),
        )
        .with(
            fmt::layer()
                .with_ansi(ansi)
                .with_writer(request_writer)
                .with_filter(filter_fn(|m| m.target() == REQUEST_LOG_TARGET)),
        )
        .init();
    guard
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser bundle starts from `hydrate()` in lib.rs; this binary needs the ssr feature.
}
