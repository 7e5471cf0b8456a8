#!/usr/bin/env node
require('../dist/bd.js');
