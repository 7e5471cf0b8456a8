#!/usr/bin/env node
import '../dist/gt.js';
