// scripts/asan.sh's self-check: a cdylib built exactly as the addon is (nightly rustc,
// -Zsanitizer=address) and loaded the way node loads the addon (dlopen, the ASan runtime
// preloaded). Its one function reads past the end of a heap allocation: unless ASan reports a
// heap-buffer-overflow, the run could not have found anything either.
#[no_mangle]
pub extern "C" fn canary_overflow(n: usize) -> u8 {
    let v: Vec<u8> = vec![1u8; 8];
    let p = v.as_ptr();
    unsafe { *p.add(n) }
}
