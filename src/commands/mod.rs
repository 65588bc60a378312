//! One module per subcommand; each turns parsed arguments into work and prints the outcome.

pub mod bench;
pub mod doctor;
pub mod models;
pub mod optimize;
pub mod output;
pub mod progress;
pub mod report;
pub mod simulate;

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::{Cli, Command, WorkerArgs};
use crate::config::ProviderSettings;
use crate::resolve::setup_for;
use crate::runtime::{FoundBy, Provider, RuntimeLibrary};

/// Runs the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Bench(args) => bench::run(args),
        Command::Report(args) => report::run(args),
        Command::Models(args) => models::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Optimize(args) => optimize::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Worker(args) => worker(args),
    }
}

/// `mora worker`: one trial, or the CUDA probe.
pub(crate) fn worker(args: WorkerArgs) -> Result<i32> {
    crate::supervise::die_of_sent_fault_signals();
    if args.probe_cuda {
        let path = args.ort_lib.as_deref().ok_or_else(|| anyhow!("--probe-cuda needs --ort-lib"))?;
        let library = RuntimeLibrary::inspect(path, FoundBy::Flag)?;
        let setup = setup_for(Provider::named("cuda"), &ProviderSettings::default(), &args.options)?;
        return Ok(crate::worker::probe_cuda(&library, &setup));
    }
    if let Some(json) = &args.probe_provider {
        let path = args.ort_lib.as_deref().ok_or_else(|| anyhow!("--probe-provider needs --ort-lib"))?;
        let library = RuntimeLibrary::inspect(path, FoundBy::Flag)?;
        let setup: crate::provider::ProviderSetup = serde_json::from_str(json).context("--probe-provider: not a provider setup")?;
        return Ok(crate::worker::probe_provider(&library, &setup));
    }
    if let Some(path) = &args.replay {
        return Ok(crate::scenario::replay::main(path));
    }
    if let Some(json) = &args.serve {
        return Ok(crate::scenario::replay::serving::main(json));
    }
    match args.spec {
        Some(spec) => Ok(crate::worker::main(&spec)),
        None => bail!("mora worker needs --spec JSON or --probe-cuda (it is started by `mora bench`)"),
    }
}
