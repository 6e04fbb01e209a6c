use std::process::ExitCode;

use clap::Parser;
use modcon::app::{self, Failure};
use modcon::cli::Cli;
use modcon::exit::Exit;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("modcon: {e}");
    }
    let cli = Cli::parse();
    let (config, config_path) = match modcon::config::load(cli.config.as_deref()) {
        Ok(found) => found,
        Err(e) => return fail(Failure::new(Exit::Usage, e.to_string())),
    };
    if let Err(e) = modcon::logging::init(config.log.file.as_deref(), &config.log.level) {
        eprintln!("modcon: logging disabled: {e}");
    }
    modcon::files::check_config(config_path.as_deref(), &config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(Failure::new(Exit::Failed, format!("cannot start: {e}"))),
    };
    match runtime.block_on(app::run(cli, config)) {
        Ok(exit) => exit.into(),
        Err(failure) => fail(failure),
    }
}

fn fail(failure: Failure) -> ExitCode {
    tracing::error!(exit = failure.exit as u8, "{}", failure.message);
    eprintln!("modcon: {}", modcon::sanitize::clean_line(&failure.message));
    failure.exit.into()
}
