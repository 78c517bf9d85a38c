// The engine suite on the CPU provider (the same suite runs on WebGPU in webgpu.test.ts).
import { defineEngineSuite } from './engineSuite.js';

defineEngineSuite('cpu');
