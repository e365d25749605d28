from losslens.cli import main

raise SystemExit(main())
