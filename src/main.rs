use clap::Parser;

use mora::commands::output;

fn main() {
    let code = match mora::commands::run(mora::cli::Cli::parse()) {
        Ok(code) => code,
        // The reader of our output went away (`| head`): not an error of the command.
        Err(e) if output::is_stdout_closed(&e) => output::STDOUT_CLOSED,
        Err(e) => {
            // A closed standard error must not turn an error into a panic.
            let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("Error: {e:#}\n"));
            1
        }
    };
    std::process::exit(code);
}
