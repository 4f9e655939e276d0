from pain3d.cli import main

raise SystemExit(main())
