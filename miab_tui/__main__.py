from miab_tui.cli import main

raise SystemExit(main())
