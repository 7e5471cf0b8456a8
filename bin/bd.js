#!/usr/bin/env node
import '../dist/bd.js';
