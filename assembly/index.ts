// The module's exports. Kernels live one family per file; this file only re-exports.
export * from "./memory";
export { rng_words_u32 } from "./rng";
export * from "./dropout";
export * from "./gaussian";
export * from "./activation";
export * from "./loss";
export * from "./optim";
export * from "./vector";
export * from "./gemm";
export * from "./dense";
export * from "./model_extra";
export * from "./crc32";
export * from "./conv";
export * from "./winograd";
export * from "./pool";
export * from "./regularize";
export * from "./rbm";
export * from "./int8";
