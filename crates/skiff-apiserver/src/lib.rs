//! skiff-apiserver
