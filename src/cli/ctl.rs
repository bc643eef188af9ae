//! `pyhost ctl`: work on a running host through its control socket.

use std::path::PathBuf;
use std::time::Duration;

use crate::host::Report;
use crate::host::config::seconds;
use crate::host::control::{Request, call};

use super::print_stdout;

/// Work on a running `pyhost run --control SOCKET`, without restarting it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The host's control socket.
    socket: PathBuf,

    /// Print the host's answer as JSON.
    #[arg(long, global = true)]
    json: bool,

    /// Seconds to wait for the answer [default: 30, plus what the host says
    /// an enable, disable or restart may take: stopping, probing and loading
    /// the module].
    #[arg(long, global = true, value_name = "SECONDS")]
    timeout: Option<f64>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Every module's state (the --report shape).
    Status,
    /// Load a module.
    Enable { name: String },
    /// Stop and unload a module.
    Disable { name: String },
    /// Unload a module and load it again in a fresh interpreter.
    Restart { name: String },
    /// Send an event to the modules that listen for it.
    Notify {
        event: String,
        /// The payload, as JSON (default: null).
        payload: Option<String>,
    },
    /// Set a value in the shared state (modules listening for `state` are told).
    Set { key: String, value: String },
    /// Shut the host down.
    Stop,
}

fn json_arg(text: &str, what: &str) -> anyhow::Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{what} must be JSON ({e}); quote strings: '\"text\"'"))
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let request = match args.command {
        Command::Status => Request::Status,
        Command::Enable { name } => Request::Enable { name },
        Command::Disable { name } => Request::Disable { name },
        Command::Restart { name } => Request::Restart { name },
        Command::Notify { event, payload } => {
            let payload = payload.as_deref().map(|p| json_arg(p, "the payload")).transpose()?;
            Request::Notify { event, payload: payload.unwrap_or(serde_json::Value::Null) }
        }
        Command::Set { key, value } => Request::Set { key, value: json_arg(&value, "the value")? },
        Command::Stop => Request::Stop,
    };
    let timeout = args.timeout.map(|s| seconds(s, "--timeout")).transpose()?;
    if timeout == Some(Duration::ZERO) {
        anyhow::bail!("--timeout must be more than 0 seconds");
    }
    let is_status = matches!(request, Request::Status);
    let response = call(&args.socket, &request, timeout)?;
    if !response.ok {
        eprintln!("pyhost: error: {}", response.error.unwrap_or_else(|| "the host refused".into()));
        return Ok(1);
    }
    let result = response.result.unwrap_or(serde_json::Value::Null);
    if args.json || !is_status {
        if !result.is_null() {
            print_stdout(&format!("{}\n", serde_json::to_string_pretty(&result)?))?;
        }
        return Ok(0);
    }
    let report: Report = serde_json::from_value(result)?;
    let mut text = format!("Python {} ({})\n", report.interpreter.version, report.interpreter.executable);
    for module in report.modules {
        let isolation = module.isolation.map(|i| i.name()).unwrap_or("-");
        let state = format!("{:?}", module.state).to_lowercase();
        text.push_str(&format!("  {:<20} {:<10} {:<8} restarts={}\n", module.name, state, isolation, module.restarts));
    }
    print_stdout(&text)?;
    Ok(0)
}
