#!/usr/bin/env node
require('../dist/gt.js');
