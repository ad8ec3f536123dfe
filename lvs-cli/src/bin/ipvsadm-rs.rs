//! `ipvsadm-rs`: a drop-in ipvsadm 1.31 over lvs-ipvs. See `lvs_ipvsadm`.

fn main() {
    // ipvsadm reads its arguments as bytes; one that is not UTF-8 is read
    // with U+FFFD in place of the bad bytes, so it is refused the way any
    // other bad address, port or name is (std::env::args would panic).
    let mut args = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let program = args.next().unwrap_or_else(|| "ipvsadm".to_owned());
    let words: Vec<String> = args.collect();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let status = lvs_ipvsadm::run(
        &program,
        &words,
        &mut lvs_ipvsadm::Io {
            input: &mut input,
            out: &mut out,
            err: &mut err,
        },
    );
    use std::io::Write;
    let _ = out.flush();
    std::process::exit(status);
}
