fn main() {
    // tauri.conf.json sits at the repository root; the capabilities stay with the shell.
    tauri_build::try_build(tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*"))
        .expect("tauri-build failed");
}
