fn main() {
    napi_build::setup();
    // Rust thread-locals (rayon workers) registered with the loader must stay
    // valid until the process exits, including after a worker thread that
    // loaded the addon ends: never unload the library.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
