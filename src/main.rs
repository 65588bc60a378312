use clap::Parser;

fn main() {
    let code = match mora::commands::run(mora::cli::Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
