//! Hugging Face ids resolve from the hf-hub cache first, and `--offline` never reaches for the network.
//! The cache here is built by the test in the Hub's own layout (`models--owner--name/refs/main` and
//! `snapshots/<revision>/`), filled with the packaged all-MiniLM-L6-v2 files.

use touchpoint::model::{store, Encoder, ModelFormat, Precision};

#[test]
fn hub_models_come_from_the_cache_and_offline_is_honoured() {
    let packaged = store::resolve("all-MiniLM-L6-v2", false, &mut |m| eprintln!("{m}")).unwrap();
    let hf_home = tempfile::tempdir().unwrap();
    let revision = "0123456789abcdef0123456789abcdef01234567";
    let repo = hf_home
        .path()
        .join("hub/models--sentence-transformers--all-MiniLM-L6-v2");
    let snapshot = repo.join("snapshots").join(revision);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), revision).unwrap();
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(packaged.dir.join(file), snapshot.join(file)).unwrap();
    }
    // This test binary holds only this test, so setting the variable affects nothing else.
    std::env::set_var("HF_HOME", hf_home.path());

    let location = store::resolve(
        "hf:sentence-transformers/all-MiniLM-L6-v2",
        true,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(location.format, ModelFormat::Hf);
    assert_eq!(location.id, "hf:sentence-transformers/all-MiniLM-L6-v2");
    assert_eq!(
        location.sha256,
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    );
    let from_cache = Encoder::load(location, Precision::F32, None).unwrap();
    let from_store = Encoder::load(packaged, Precision::F32, None).unwrap();
    let text = ["Where can I see my energy usage?"];
    let a = from_cache.embed(&text, "", 1024).unwrap();
    let b = from_store.embed(&text, "", 1024).unwrap();
    assert_eq!(a.vectors, b.vectors);

    // Not cached and offline: a clear error naming the model and the cache, no download attempt.
    let err = store::resolve("hf:nobody/not-cached", true, &mut |_| {}).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("nobody/not-cached") && message.contains("--offline"),
        "{message}"
    );
    assert_eq!(err.exit_code(), 4);
}
