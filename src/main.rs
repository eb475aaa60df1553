//! The `arclamp` binary: parses the command line and hands over to [`arclamp::cli`].

use clap::Parser;

use arclamp::cli::{self, Cli, Command};

fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    let result = match args.command {
        Command::Serve(args) => cli::serve::run(args),
        Command::CheckConfig(args) => cli::check_config::run(args),
        Command::Render(args) => cli::render::run(args),
        Command::Publish(args) => cli::publish::run(args),
        Command::Import(args) => cli::import::run(args),
        Command::Copy(args) => cli::copy::run(args),
        Command::Migrate(args) => cli::migrate::run(args),
        Command::Top(args) => cli::top::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("arclamp: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
